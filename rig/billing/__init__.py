"""rig.billing — the billing centre: customers, meters, cards, tariffs, vends, readbacks and
reconciliation, on SQLite or PostgreSQL. Imports no hardware: the card layer converts its
records to and from the plain types here.

Entry point::

    from rig.billing import open_billing
    centre = open_billing("sqlite:///billing.sqlite")
"""

from rig.billing.db import create_billing_engine, open_billing, upgrade
from rig.billing.service import BillingCentre, Conflict, NotFound, VendRefused
from rig.billing.tariffs import price_vend
from rig.billing.types import (
    CardInfo,
    CardStatus,
    Check,
    CreditUnit,
    CustomerInfo,
    DailySales,
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
    VendLimits,
    VendResult,
    VendStatus,
    Verdict,
)

__all__ = [
    "BillingCentre",
    "CardInfo",
    "CardStatus",
    "Check",
    "Conflict",
    "CreditUnit",
    "CustomerInfo",
    "DailySales",
    "MeterInfo",
    "MeterStatus",
    "NotFound",
    "OperatorInfo",
    "OperatorRole",
    "Pricing",
    "ReadbackData",
    "ReceiptLine",
    "ReconciliationResult",
    "StationInfo",
    "TariffInfo",
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
