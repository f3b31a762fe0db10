"""The record a meter writes back onto the card for the billing centre: its registers, MAC'd
under the meter key (layout: docs/card-spec.md; shared checks: record_fields.py)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import ClassVar

from rig.card.apdu import RecordError
from rig.card.record_fields import (
    EPOCH,
    FORMAT_VERSION,
    NO_MAC,
    U16,
    U32,
    UNIT_CODES,
    CardRecord,
    bcd_decode,
    check_header,
    check_mac,
    check_meter_no,
    check_uint,
    credit_unit_field,
)
from rig.credit_unit import CreditUnit

# --- READBACK -------------------------------------------------------------------------------

FLAG_RELAY_OPEN = 0x01
FLAG_ALARM_ACTIVE = 0x02


@dataclass(frozen=True)
class ReadbackRecord(CardRecord):
    """The meter's state as written onto the card, brought back to the billing centre."""

    meter_no: str
    energy_wh: int
    remaining: int
    overdraft: int
    purchase_count: int
    last_sequence: int
    cumulative_purchase: int
    credit_unit: CreditUnit
    relay_open: bool
    alarm_active: bool
    alarm_count: int
    cutoff_count: int
    tamper_count: int
    power_down_count: int
    timestamp: datetime  # UTC, whole seconds
    tariff_version: int
    readback_no: int = 0  # write generation: the newest valid copy on the card wins
    mac: bytes = field(default=NO_MAC, repr=False)

    NAME: ClassVar[str] = "ReadbackRecord"
    SIZE: ClassVar[int] = 57
    _FMT: ClassVar[struct.Struct] = struct.Struct(">B6sIIIHIIBBHHHHIHI8s")

    def __post_init__(self) -> None:
        n = self.NAME
        check_meter_no(n, self.meter_no)
        for name in ("energy_wh", "remaining", "overdraft", "last_sequence",
                     "cumulative_purchase", "readback_no"):
            check_uint(n, name, getattr(self, name), U32)
        for name in ("purchase_count", "alarm_count", "cutoff_count", "tamper_count",
                     "power_down_count", "tariff_version"):
            check_uint(n, name, getattr(self, name), U16)
        object.__setattr__(self, "credit_unit",
                           credit_unit_field(n, "credit_unit", self.credit_unit))
        for name in ("relay_open", "alarm_active"):
            if not isinstance(getattr(self, name), bool):
                raise RecordError(n, name, "must be a bool")
        ts = self.timestamp
        if not isinstance(ts, datetime) or ts.tzinfo is None:
            raise RecordError(n, "timestamp", "must be a timezone-aware datetime (UTC)")
        ts = ts.astimezone(UTC).replace(microsecond=0)
        if not EPOCH <= ts <= EPOCH + timedelta(seconds=U32):
            raise RecordError(n, "timestamp", f"{ts.isoformat()} outside the u32 range from 2000")
        object.__setattr__(self, "timestamp", ts)
        check_mac(n, self.mac)

    def to_bytes(self) -> bytes:
        flags = (FLAG_RELAY_OPEN if self.relay_open else 0) | \
                (FLAG_ALARM_ACTIVE if self.alarm_active else 0)
        seconds = int((self.timestamp - EPOCH).total_seconds())
        return self._FMT.pack(
            FORMAT_VERSION, bytes.fromhex(self.meter_no), self.energy_wh, self.remaining,
            self.overdraft, self.purchase_count, self.last_sequence, self.cumulative_purchase,
            UNIT_CODES[self.credit_unit], flags, self.alarm_count, self.cutoff_count,
            self.tamper_count, self.power_down_count, seconds, self.tariff_version,
            self.readback_no, self.mac)

    @classmethod
    def from_bytes(cls, data: bytes) -> ReadbackRecord:
        data = check_header(cls.NAME, data, cls.SIZE)
        (_, meter, energy, remaining, overdraft, pcount, last_seq, cum, unit, flags,
         alarms, cutoffs, tampers, power_downs, seconds, tver, rb_no, tag) = cls._FMT.unpack(data)
        if flags & ~(FLAG_RELAY_OPEN | FLAG_ALARM_ACTIVE):
            raise RecordError(cls.NAME, "flags", f"reserved bits set in {flags:02X}")
        return cls(meter_no=bcd_decode(cls.NAME, "meter_no", meter), energy_wh=energy,
                   remaining=remaining, overdraft=overdraft, purchase_count=pcount,
                   last_sequence=last_seq, cumulative_purchase=cum, credit_unit=unit,
                   relay_open=bool(flags & FLAG_RELAY_OPEN),
                   alarm_active=bool(flags & FLAG_ALARM_ACTIVE), alarm_count=alarms,
                   cutoff_count=cutoffs, tamper_count=tampers, power_down_count=power_downs,
                   timestamp=EPOCH + timedelta(seconds=seconds), tariff_version=tver,
                   readback_no=rb_no, mac=tag)
