"""rig.billing — the billing centre: customers, meters, cards, tariffs, vends, readbacks and
reconciliation, on SQLite or PostgreSQL. Imports no hardware: the card layer converts its
records to and from the plain types here.

Entry point::

    from rig.billing import open_billing
    centre = open_billing("sqlite:///billing.sqlite")
"""

from rig.billing.audit import ChainReport
from rig.billing.busy import BillingBusy
from rig.billing.centre import (
    BillingCentre,
    Conflict,
    NotFound,
    PermissionDenied,
    VendRefused,
    open_billing,
)
from rig.billing.engine import create_billing_engine, upgrade
from rig.billing.protocol import BillingCentreProtocol
from rig.billing.tariffs import TariffError, price_vend
from rig.billing.types import (
    Band,
    Block,
    CardInfo,
    CardStatus,
    CashierSessionInfo,
    Check,
    CreditUnit,
    CustomerInfo,
    DailySales,
    DebtInfo,
    HoardingCheck,
    MeterInfo,
    MeterStatus,
    OperatorInfo,
    OperatorRole,
    Pricing,
    ReadbackData,
    ReceiptLine,
    ReconciliationResult,
    StationInfo,
    TariffInfo,
    Tax,
    VendKind,
    VendLimits,
    VendResult,
    VendStatus,
    Verdict,
)

__all__ = [
    "Band",
    "BillingBusy",
    "BillingCentre",
    "BillingCentreProtocol",
    "Block",
    "CardInfo",
    "CardStatus",
    "CashierSessionInfo",
    "ChainReport",
    "Check",
    "Conflict",
    "CreditUnit",
    "CustomerInfo",
    "DailySales",
    "DebtInfo",
    "HoardingCheck",
    "MeterInfo",
    "MeterStatus",
    "NotFound",
    "OperatorInfo",
    "OperatorRole",
    "PermissionDenied",
    "Pricing",
    "ReadbackData",
    "ReceiptLine",
    "ReconciliationResult",
    "StationInfo",
    "TariffError",
    "TariffInfo",
    "Tax",
    "VendKind",
    "VendLimits",
    "VendRefused",
    "VendResult",
    "VendStatus",
    "Verdict",
    "create_billing_engine",
    "open_billing",
    "price_vend",
    "upgrade",
]
