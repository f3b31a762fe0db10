"""Binary records stored in the card's transparent EFs (layouts: docs/card-spec.md), one
import path for them all. Each family lives in its own module: ``record_fields`` (the format
version, the field checks and the :class:`CardRecord` base), ``sale_records`` (CARD_INFO,
purchase, tariff: what a station writes), ``readback_record`` (what the meter writes back) and
``command_records`` (PARAMETER, CLEAR/TEST and KEY_CHANGE cards)."""

from __future__ import annotations

from rig.card.command_records import (
    MAX_FRIENDLY_PERIODS,
    MAX_TARIFF_RATES,
    ClearAction,
    ClearRecord,
    FriendlyPeriod,
    KeyChangeRecord,
    ParameterRecord,
    TariffRate,
)
from rig.card.readback_record import FLAG_ALARM_ACTIVE, FLAG_RELAY_OPEN, ReadbackRecord
from rig.card.record_fields import (
    EPOCH,
    FORMAT_VERSION,
    NO_MAC,
    PRICE_SCALE,
    U8,
    U16,
    U32,
    UNIT_CODES,
    CardRecord,
    CardType,
)
from rig.card.sale_records import CardInfo, PurchaseRecord, TariffRecord
from rig.credit_unit import CreditUnit

__all__ = [
    "EPOCH", "FLAG_ALARM_ACTIVE", "FLAG_RELAY_OPEN", "FORMAT_VERSION", "MAX_FRIENDLY_PERIODS",
    "MAX_TARIFF_RATES", "NO_MAC", "PRICE_SCALE", "U8", "U16", "U32", "UNIT_CODES", "CardInfo",
    "CardRecord", "CardType", "ClearAction", "ClearRecord", "CreditUnit", "FriendlyPeriod",
    "KeyChangeRecord", "ParameterRecord", "PurchaseRecord", "ReadbackRecord", "TariffRate",
    "TariffRecord",
]

for _cls in (CardInfo, PurchaseRecord, TariffRecord, ReadbackRecord, ParameterRecord,
             ClearRecord, KeyChangeRecord):
    assert _cls._FMT.size == _cls.SIZE, _cls  # layout and documented size must agree
