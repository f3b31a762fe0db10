"""The centre's own check of an uploaded readback.

The raw record the card brought back is decoded here and its MAC verified with the centre's
readback key service. What a client says about a readback (its decoded fields) must agree
with the raw record; whether its MAC is good is never the client's to say. A readback
without a raw record, or whose MAC does not verify, is kept as unverified: it confirms no
vend and never reconciles as balanced.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rig.billing.models import to_utc
from rig.billing.readback_keys import ReadbackKeyService
from rig.billing.types import CreditUnit, ReadbackData
from rig.card.apdu import MacError, RecordError
from rig.card.records import CreditUnit as CardCreditUnit
from rig.card.records import ReadbackRecord
from rig.errors import BillingError

_COMPARED = tuple(f.name for f in dataclasses.fields(ReadbackData) if f.name != "mac_verified")


def readback_data(record: ReadbackRecord) -> ReadbackData:
    """A card readback record in the centre's terms (not verified: the centre decides that)."""
    return ReadbackData(
        meter_no=record.meter_no, energy_wh=record.energy_wh, remaining=record.remaining,
        overdraft=record.overdraft, purchase_count=record.purchase_count,
        last_sequence=record.last_sequence, cumulative_purchase=record.cumulative_purchase,
        credit_unit=(CreditUnit.MONEY_CENTS if record.credit_unit is CardCreditUnit.MONEY_CENTS
                     else CreditUnit.ENERGY_WH),
        relay_open=record.relay_open, alarm_active=record.alarm_active,
        alarm_count=record.alarm_count, cutoff_count=record.cutoff_count,
        tamper_count=record.tamper_count, power_down_count=record.power_down_count,
        timestamp=record.timestamp, tariff_version=record.tariff_version, mac_verified=False)


def decode(data: ReadbackData | None, raw: bytes | None) -> tuple[ReadbackData,
                                                                 ReadbackRecord | None]:
    """The readback to store: the raw record's fields (which ``data``, if also given, must
    match field by field), or ``data`` alone when there is no raw record."""
    if raw is None:
        if data is None:
            raise BillingError("a readback needs its raw record (raw_hex) or its fields")
        return dataclasses.replace(data, mac_verified=False), None
    if len(raw) != ReadbackRecord.SIZE:
        raise BillingError(f"raw_hex: a readback record is {ReadbackRecord.SIZE} bytes, "
                           f"got {len(raw)}")
    try:
        record = ReadbackRecord.from_bytes(raw)
    except RecordError as e:
        raise BillingError(f"raw_hex: not a readback record ({e})") from None
    decoded = readback_data(record)
    if data is not None:
        for name in _COMPARED:
            given, actual = _comparable(getattr(data, name)), _comparable(getattr(decoded, name))
            if given != actual:
                raise BillingError(f"{name}: {given} disagrees with the raw record's {actual} "
                                   "(nothing stored)")
    return decoded, record


def _comparable(value: object) -> object:
    if isinstance(value, CreditUnit):
        return value.value
    if isinstance(value, datetime):
        return to_utc(value).isoformat()
    return value


@dataclass(frozen=True)
class MacCheck:
    verified: bool
    reason: str | None  # why not, when not

    def evidence(self, keys: ReadbackKeyService | None) -> dict[str, Any]:
        out: dict[str, Any] = {"verified_by_centre": self.verified}
        if self.reason:
            out["reason"] = self.reason
        if keys is not None:
            out["key_id"] = keys.key_id
            out["public_test_key"] = keys.public_test_key
        return out


def verify_mac(record: ReadbackRecord | None, keys: ReadbackKeyService | None,
               key_revision: int) -> MacCheck:
    """Verify the record's MAC under the meter's readback key at ``key_revision``."""
    if record is None:
        return MacCheck(False, "no raw record: the centre cannot verify it")
    if keys is None:
        return MacCheck(False, "the centre holds no readback key")
    try:
        record.verify(keys.mac_key(record.meter_no, key_revision))
    except MacError:
        return MacCheck(False, f"MAC does not verify under meter {record.meter_no}'s readback "
                               f"key (key revision {key_revision})")
    return MacCheck(True, None)
