"""The IC card: application spec (docs/card-spec.md), records, keys, terminal session, PC/SC.

`rig.card.pcsc` (pyscard) is imported lazily so codec-only users (billing, meter firmware) do
not need a PC/SC stack.
"""

from typing import Any

from rig.card.apdu import (
    AID,
    CardRemovedError,
    CommandApdu,
    MacError,
    NoCardError,
    NoReaderError,
    RecordError,
    StatusWordError,
)
from rig.card.application import (
    EF_SIZES,
    FID_CARD_INFO,
    FID_PURCHASE,
    FID_READBACK,
    FID_TARIFF,
    CardApplication,
)
from rig.card.keys import KeyLoadError, MasterKey, derive_meter_key, mac
from rig.card.records import (
    CardInfo,
    CardType,
    CreditUnit,
    PurchaseRecord,
    ReadbackRecord,
    TariffRecord,
)
from rig.card.session import ApduTransport, CardSession, DirectTransport
from rig.card.trace import ApduTrace, TraceEntry

_LAZY = {"PcscReader", "PcscConnection", "list_readers"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from rig.card import pcsc

        return getattr(pcsc, name)
    raise AttributeError(f"module 'rig.card' has no attribute {name!r}")


__all__ = [
    "AID",
    "EF_SIZES",
    "FID_CARD_INFO",
    "FID_PURCHASE",
    "FID_READBACK",
    "FID_TARIFF",
    "ApduTrace",
    "ApduTransport",
    "CardApplication",
    "CardInfo",
    "CardRemovedError",
    "CardSession",
    "CardType",
    "CommandApdu",
    "CreditUnit",
    "DirectTransport",
    "KeyLoadError",
    "MacError",
    "MasterKey",
    "NoCardError",
    "NoReaderError",
    "PcscConnection",
    "PcscReader",
    "PurchaseRecord",
    "ReadbackRecord",
    "RecordError",
    "StatusWordError",
    "TariffRecord",
    "TraceEntry",
    "derive_meter_key",
    "list_readers",
    "mac",
]
