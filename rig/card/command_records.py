"""The command records a meter obeys once: a PARAMETER card's levels, friendly periods and
tariff table, a CLEAR/TEST card's action and a KEY_CHANGE card's wrapped key (layouts:
docs/card-spec.md; shared checks: record_fields.py)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import IntEnum
from typing import Any, ClassVar

from rig.card.apdu import RecordError
from rig.card.record_fields import (
    FORMAT_VERSION,
    NO_MAC,
    PRICE_SCALE,
    U8,
    U16,
    U32,
    CardRecord,
    bcd_decode,
    check_header,
    check_mac,
    check_meter_no,
    check_uint,
    enum_field,
)

# --- COMMAND EF: PARAMETER / CLEAR / KEY_CHANGE cards -----------------------------------------

MAX_FRIENDLY_PERIODS = 3
MAX_TARIFF_RATES = 4


def _price_units(rec: str, name: str, price: Any) -> int:
    if isinstance(price, bool) or not isinstance(price, Decimal | int):
        raise RecordError(rec, name, f"must be Decimal (never float), got {type(price).__name__}")
    try:
        units = Decimal(price) / PRICE_SCALE
        ok = units.is_finite() and units == units.to_integral_value()
    except InvalidOperation:
        ok = False
    if not ok:
        raise RecordError(rec, name, f"{price} is not a price with at most 4 decimals")
    if not 0 <= units <= U32:
        raise RecordError(rec, name, f"{price} outside 0..{Decimal(U32) * PRICE_SCALE}")
    return int(units)


@dataclass(frozen=True)
class FriendlyPeriod:
    """Hours in which the relay is never opened for lack of credit (e.g. nights, weekends)."""

    start_hour: int  # 0..23
    end_hour: int  # start+1..24
    weekdays: int  # bit0 Monday .. bit6 Sunday, at least one bit

    def check(self, rec: str, i: int) -> None:
        name = f"friendly_periods[{i}]"
        for attr, limit in (("start_hour", 23), ("end_hour", 24), ("weekdays", 0x7F)):
            check_uint(rec, f"{name}.{attr}", getattr(self, attr), limit)
        if self.end_hour <= self.start_hour:
            raise RecordError(rec, name, f"end hour {self.end_hour} not after start "
                                         f"{self.start_hour}")
        if not self.weekdays:
            raise RecordError(rec, name, "no weekday selected")


@dataclass(frozen=True)
class TariffRate:
    """One rate of a time-of-use table: applies from ``start_minute`` of the day."""

    start_minute: int  # 0..1439
    price_per_kwh: Decimal


@dataclass(frozen=True)
class ParameterRecord(CardRecord):
    """Meter parameters carried by a PARAMETER card, MAC'd under the meter key.

    Amounts are in credit units (0.01 currency or Wh); a limit of 0 means "none".
    """

    meter_no: str
    version: int  # parameter set version, applied when newer than the meter's
    alarm1: int
    alarm2: int
    overdraft_limit: int
    hoarding_limit: int
    power_limit_w: int
    friendly_periods: tuple[FriendlyPeriod, ...]
    tariff_version: int
    tariff_rates: tuple[TariffRate, ...]
    key_revision: int
    mac: bytes = field(default=NO_MAC, repr=False)

    NAME: ClassVar[str] = "ParameterRecord"
    SIZE: ClassVar[int] = 75
    _FMT: ClassVar[struct.Struct] = struct.Struct(">B6sHIIIIIB9sHB24sB8s")

    def __post_init__(self) -> None:
        n = self.NAME
        check_meter_no(n, self.meter_no)
        check_uint(n, "version", self.version, U16)
        for name in ("alarm1", "alarm2", "overdraft_limit", "hoarding_limit", "power_limit_w"):
            check_uint(n, name, getattr(self, name), U32)
        if self.alarm2 > self.alarm1:
            raise RecordError(n, "alarm2", f"{self.alarm2} above alarm1 {self.alarm1}")
        object.__setattr__(self, "friendly_periods", tuple(self.friendly_periods))
        object.__setattr__(self, "tariff_rates", tuple(self.tariff_rates))
        if len(self.friendly_periods) > MAX_FRIENDLY_PERIODS:
            raise RecordError(n, "friendly_periods", f"at most {MAX_FRIENDLY_PERIODS}")
        for i, fp in enumerate(self.friendly_periods):
            fp.check(n, i)
        check_uint(n, "tariff_version", self.tariff_version, U16)
        rates = self.tariff_rates
        if not 1 <= len(rates) <= MAX_TARIFF_RATES:
            raise RecordError(n, "tariff_rates", f"1..{MAX_TARIFF_RATES} rates, got {len(rates)}")
        if rates[0].start_minute != 0:
            raise RecordError(n, "tariff_rates[0].start_minute", "first rate must start at 0")
        for i, r in enumerate(rates):
            check_uint(n, f"tariff_rates[{i}].start_minute", r.start_minute, 1439)
            if i and r.start_minute <= rates[i - 1].start_minute:
                raise RecordError(n, f"tariff_rates[{i}].start_minute", "must increase")
            _price_units(n, f"tariff_rates[{i}].price_per_kwh", r.price_per_kwh)
        check_uint(n, "key_revision", self.key_revision, U8)
        check_mac(n, self.mac)

    def to_bytes(self) -> bytes:
        fps = b"".join(bytes([f.start_hour, f.end_hour, f.weekdays])
                       for f in self.friendly_periods).ljust(9, b"\0")
        rates = b"".join(struct.pack(">HI", r.start_minute,
                                     _price_units(self.NAME, "price", r.price_per_kwh))
                         for r in self.tariff_rates).ljust(24, b"\0")
        return self._FMT.pack(
            FORMAT_VERSION, bytes.fromhex(self.meter_no), self.version, self.alarm1,
            self.alarm2, self.overdraft_limit, self.hoarding_limit, self.power_limit_w,
            len(self.friendly_periods), fps, self.tariff_version, len(self.tariff_rates), rates,
            self.key_revision, self.mac)

    @classmethod
    def from_bytes(cls, data: bytes) -> ParameterRecord:
        data = check_header(cls.NAME, data, cls.SIZE)
        (_, meter, ver, a1, a2, od, hoard, power, nfp, fps, tver, nrates, rates, rev,
         tag) = cls._FMT.unpack(data)
        if nfp > MAX_FRIENDLY_PERIODS:
            raise RecordError(cls.NAME, "friendly_periods", f"count {nfp} above "
                                                            f"{MAX_FRIENDLY_PERIODS}")
        if nrates > MAX_TARIFF_RATES:
            raise RecordError(cls.NAME, "tariff_rates", f"count {nrates} above "
                                                        f"{MAX_TARIFF_RATES}")
        periods = tuple(FriendlyPeriod(fps[3 * i], fps[3 * i + 1], fps[3 * i + 2])
                        for i in range(nfp))
        table = []
        for i in range(nrates):
            start, price = struct.unpack_from(">HI", rates, 6 * i)
            table.append(TariffRate(start, Decimal(price) * PRICE_SCALE))
        return cls(meter_no=bcd_decode(cls.NAME, "meter_no", meter), version=ver, alarm1=a1,
                   alarm2=a2, overdraft_limit=od, hoarding_limit=hoard, power_limit_w=power,
                   friendly_periods=periods, tariff_version=tver, tariff_rates=tuple(table),
                   key_revision=rev, mac=tag)


class ClearAction(IntEnum):
    TEST = 0  # lab test: the meter shows its state and writes a readback, changes nothing
    CLEAR_EVENTS = 1  # zero the event counters (alarms, cut-offs, tamper, power-downs)


@dataclass(frozen=True)
class ClearRecord(CardRecord):
    """A CLEAR/TEST card's command for one meter; ``clear_no`` makes it apply once."""

    meter_no: str
    clear_no: int
    action: ClearAction
    key_revision: int
    mac: bytes = field(default=NO_MAC, repr=False)

    NAME: ClassVar[str] = "ClearRecord"
    SIZE: ClassVar[int] = 19
    _FMT: ClassVar[struct.Struct] = struct.Struct(">B6sHBB8s")

    def __post_init__(self) -> None:
        check_meter_no(self.NAME, self.meter_no)
        check_uint(self.NAME, "clear_no", self.clear_no, U16)
        object.__setattr__(self, "action",
                           enum_field(self.NAME, "action", self.action, ClearAction))
        check_uint(self.NAME, "key_revision", self.key_revision, U8)
        check_mac(self.NAME, self.mac)

    def to_bytes(self) -> bytes:
        return self._FMT.pack(FORMAT_VERSION, bytes.fromhex(self.meter_no), self.clear_no,
                              self.action, self.key_revision, self.mac)

    @classmethod
    def from_bytes(cls, data: bytes) -> ClearRecord:
        data = check_header(cls.NAME, data, cls.SIZE)
        _, meter, no, action, rev, tag = cls._FMT.unpack(data)
        return cls(meter_no=bcd_decode(cls.NAME, "meter_no", meter), clear_no=no,
                   action=action, key_revision=rev, mac=tag)


@dataclass(frozen=True)
class KeyChangeRecord(CardRecord):
    """A KEY_CHANGE card: the meter's next key, AES-key-wrapped under its current key and MAC'd
    under the current key, so only the meter holding revision ``old_revision`` can take it."""

    meter_no: str
    old_revision: int
    new_revision: int
    wrapped_key: bytes  # RFC 3394, 24 bytes
    mac: bytes = field(default=NO_MAC, repr=False)

    NAME: ClassVar[str] = "KeyChangeRecord"
    SIZE: ClassVar[int] = 41
    _FMT: ClassVar[struct.Struct] = struct.Struct(">B6sBB24s8s")

    def __post_init__(self) -> None:
        check_meter_no(self.NAME, self.meter_no)
        check_uint(self.NAME, "old_revision", self.old_revision, U8)
        check_uint(self.NAME, "new_revision", self.new_revision, U8)
        if self.new_revision <= self.old_revision:
            raise RecordError(self.NAME, "new_revision",
                              f"{self.new_revision} not above old revision {self.old_revision}")
        if not isinstance(self.wrapped_key, bytes) or len(self.wrapped_key) != 24:
            raise RecordError(self.NAME, "wrapped_key", "must be 24 bytes")
        check_mac(self.NAME, self.mac)

    def __repr__(self) -> str:  # the wrapped key is ciphertext, but keep it out of logs anyway
        return (f"KeyChangeRecord(meter_no={self.meter_no!r}, old_revision={self.old_revision},"
                f" new_revision={self.new_revision})")

    def to_bytes(self) -> bytes:
        return self._FMT.pack(FORMAT_VERSION, bytes.fromhex(self.meter_no), self.old_revision,
                              self.new_revision, self.wrapped_key, self.mac)

    @classmethod
    def from_bytes(cls, data: bytes) -> KeyChangeRecord:
        data = check_header(cls.NAME, data, cls.SIZE)
        _, meter, old, new, wrapped, tag = cls._FMT.unpack(data)
        return cls(meter_no=bcd_decode(cls.NAME, "meter_no", meter), old_revision=old,
                   new_revision=new, wrapped_key=wrapped, mac=tag)
