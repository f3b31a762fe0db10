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
from rig.billing.readback_format import ReadbackFormat, format_for
from rig.billing.readback_keys import ReadbackKeyService
from rig.billing.types import ReadbackData
from rig.credit_unit import CreditUnit
from rig.errors import BillingError, RigError

_COMPARED = tuple(f.name for f in dataclasses.fields(ReadbackData) if f.name != "mac_verified")


@dataclass(frozen=True)
class RawReadback:
    """An uploaded record the centre decoded: its bytes, its format and the meter it names."""

    raw: bytes
    format: ReadbackFormat
    meter_no: str


def decode(data: ReadbackData | None, raw: bytes | None) -> tuple[ReadbackData,
                                                                 RawReadback | None]:
    """The readback to store: the raw record's fields (which ``data``, if also given, must
    match field by field), or ``data`` alone when there is no raw record."""
    if raw is None:
        if data is None:
            raise BillingError("a readback needs its raw record (raw_hex) or its fields")
        return dataclasses.replace(data, mac_verified=False), None
    fmt = format_for(raw)
    try:
        fields = fmt.fields(raw)
    except (RigError, ValueError) as e:  # a format's record errors name the bad field
        raise BillingError(f"raw_hex: not a readback record ({e})") from None
    decoded = ReadbackData(**{**fields, "credit_unit": CreditUnit(fields["credit_unit"])},
                           mac_verified=False)
    if data is not None:
        for name in _COMPARED:
            given, actual = _comparable(getattr(data, name)), _comparable(getattr(decoded, name))
            if given != actual:
                raise BillingError(f"{name}: {given} disagrees with the raw record's {actual} "
                                   "(nothing stored)")
    return decoded, RawReadback(raw, fmt, decoded.meter_no)


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


def verify_mac(record: RawReadback | None, keys: ReadbackKeyService | None,
               key_revision: int) -> MacCheck:
    """Verify the record's MAC under the meter's readback key at ``key_revision``."""
    if record is None:
        return MacCheck(False, "no raw record: the centre cannot verify it")
    if keys is None:
        return MacCheck(False, "the centre holds no readback key")
    if not record.format.mac_verifies(record.raw, keys.mac_key(record.meter_no, key_revision)):
        return MacCheck(False, f"MAC does not verify under meter {record.meter_no}'s readback "
                               f"key (key revision {key_revision})")
    return MacCheck(True, None)
