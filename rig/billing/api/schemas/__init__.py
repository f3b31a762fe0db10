"""Wire types of the REST API (pydantic): what JSON goes in and out, and nothing else.

Money crosses the wire as a decimal *string* both ways ("20.00"): a JSON number is a binary
float in most clients, and a ledger must never see one. Energy, credit and counters are JSON
integers. Replies are built from the centre's dataclasses with ``from_attributes`` and turned
back into them by :mod:`rig.billing.api.convert`. One module per area: ``fields`` (the field
types and base models), ``master``, ``vending``, ``readbacks``, ``access``.
"""

from rig.billing.api.schemas.access import (
    ChainOut,
    IssuedTokenOut,
    SessionCloseIn,
    SessionOpenIn,
    SessionOut,
    TokenIn,
    TokenOut,
)
from rig.billing.api.schemas.fields import ErrorOut
from rig.billing.api.schemas.master import (
    BandIn,
    BandOut,
    BlockIn,
    BlockOut,
    CardIn,
    CardOut,
    CardStatusIn,
    CustomerIn,
    CustomerOut,
    HoardingLimitIn,
    HoardingOut,
    MeterIn,
    MeterOut,
    MeterStatusIn,
    OperatorIn,
    OperatorOut,
    ParametersIn,
    ParametersOut,
    StationIn,
    StationOut,
    TariffIn,
    TariffOut,
    TaxIn,
    TaxOut,
)
from rig.billing.api.schemas.readbacks import CheckOut, ReadbackIn, ReconciliationOut
from rig.billing.api.schemas.vending import (
    FreeIssueIn,
    LimitsOut,
    ReceiptLineOut,
    ReceiptOut,
    ReplaceCardIn,
    ReplaceCardOut,
    ReverseIn,
    VendIn,
    VendOut,
)

__all__ = [
    "BandIn", "BandOut", "BlockIn", "BlockOut", "CardIn", "CardOut", "CardStatusIn", "ChainOut",
    "CheckOut", "CustomerIn", "CustomerOut", "ErrorOut", "FreeIssueIn", "HoardingLimitIn",
    "HoardingOut", "IssuedTokenOut", "LimitsOut", "MeterIn", "MeterOut", "MeterStatusIn",
    "OperatorIn", "OperatorOut", "ParametersIn", "ParametersOut", "ReadbackIn",
    "ReceiptLineOut", "ReceiptOut", "ReconciliationOut", "ReplaceCardIn", "ReplaceCardOut",
    "ReverseIn", "SessionCloseIn", "SessionOpenIn", "SessionOut", "StationIn", "StationOut",
    "TariffIn", "TariffOut", "TaxIn", "TaxOut", "TokenIn", "TokenOut", "VendIn", "VendOut",
]
