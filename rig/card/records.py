"""Binary records stored in the card's transparent EFs (layouts: docs/card-spec.md).

Every record starts with a format version byte and is big-endian. Records with a MAC end with
an 8-byte truncated AES-CMAC under the meter key over all bytes before the MAC. An EF that was
never written reads as all zeros; `parse_optional()` maps that to ``None`` ("empty") so callers
can tell "nothing written yet" from "garbage on the card" (which raises `RecordError`).
"""

from __future__ import annotations

import dataclasses
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import IntEnum
from typing import Any, ClassVar, Self

from rig.card.apdu import MacError, RecordError
from rig.card.keys import MAC_LEN, mac, mac_matches
from rig.credit_unit import CreditUnit

FORMAT_VERSION = 1
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
PRICE_SCALE = Decimal("0.0001")
NO_MAC = bytes(MAC_LEN)

U8, U16, U32 = 0xFF, 0xFFFF, 0xFFFF_FFFF


class CardType(IntEnum):
    USER = 1
    PARAMETER = 2
    CHECK = 3
    CLEAR = 4
    KEY_CHANGE = 5


# The byte that carries a CreditUnit in rig's card format (docs/card-spec.md).
UNIT_CODES = {CreditUnit.MONEY_CENTS: 0, CreditUnit.ENERGY_WH: 1}
_UNIT_OF_CODE = {code: unit for unit, code in UNIT_CODES.items()}


# --- field helpers (all raise RecordError naming record and field) --------------------------


def _uint(rec: str, name: str, value: Any, limit: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordError(rec, name, f"must be an int, got {type(value).__name__}")
    if not 0 <= value <= limit:
        raise RecordError(rec, name, f"{value} outside 0..{limit}")


def _enum(rec: str, name: str, value: Any, enum: type[IntEnum]) -> IntEnum:
    try:
        return enum(value)
    except ValueError:
        raise RecordError(rec, name, f"{value!r} is not a valid {enum.__name__}") from None


def _credit_unit(rec: str, name: str, value: Any) -> CreditUnit:
    """A CreditUnit from itself or its byte on the card."""
    if isinstance(value, CreditUnit):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value in _UNIT_OF_CODE:
        return _UNIT_OF_CODE[value]
    raise RecordError(rec, name, f"{value!r} is not a valid CreditUnit")


def _meter_no(rec: str, value: Any) -> None:
    if not isinstance(value, str) or len(value) != 12 or not value.isascii() \
            or not value.isdigit():
        raise RecordError(rec, "meter_no", f"must be 12 decimal digits, got {value!r}")


def _bcd_decode(rec: str, name: str, raw: bytes) -> str:
    text = raw.hex()
    if not text.isdigit():
        raise RecordError(rec, name, f"BCD {raw.hex().upper()} has a nibble above 9")
    return text


def _mac_field(rec: str, value: Any) -> None:
    if not isinstance(value, bytes) or len(value) != MAC_LEN:
        raise RecordError(rec, "mac", f"must be {MAC_LEN} bytes")


def _check_header(rec: str, data: Any, size: int) -> bytes:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise RecordError(rec, "data", f"must be bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) != size:
        raise RecordError(rec, "length", f"expected {size} bytes, got {len(data)}")
    if data[0] != FORMAT_VERSION:
        raise RecordError(rec, "format_version", f"unsupported version {data[0]}")
    return data


class _Record:
    """Shared behaviour: fixed SIZE, to/from bytes, empty detection, MAC sign/verify."""

    NAME: ClassVar[str]
    SIZE: ClassVar[int]
    HAS_MAC: ClassVar[bool] = True

    def to_bytes(self) -> bytes:  # pragma: no cover - overridden
        raise NotImplementedError

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:  # pragma: no cover - overridden
        raise NotImplementedError

    @classmethod
    def parse_optional(cls, data: bytes) -> Self | None:
        """Decode the first SIZE bytes of an EF; an erased (all-zero) record is ``None``."""
        head = bytes(data[: cls.SIZE])
        if len(head) == cls.SIZE and not any(head):
            return None
        return cls.from_bytes(head)

    def signed_part(self) -> bytes:
        """The bytes the MAC covers: everything before the MAC field."""
        return self.to_bytes()[:-MAC_LEN]

    def sign(self, key: bytes) -> Self:
        """Copy of this record carrying the MAC under ``key`` (the meter key)."""
        return dataclasses.replace(self, mac=mac(key, self.signed_part()))  # type: ignore[type-var]

    def verify(self, key: bytes) -> Self:
        """Return self if the MAC verifies under ``key``, else raise MacError."""
        tag: bytes = self.mac  # type: ignore[attr-defined]
        if not mac_matches(key, self.signed_part(), tag):
            meter = getattr(self, "meter_no", "?")
            raise MacError(f"{self.NAME} for meter {meter}: MAC does not verify")
        return self


# --- CARD_INFO ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CardInfo(_Record):
    """Card personalisation: what the card is, which meter it is bound to, which key."""

    card_type: CardType
    card_serial: str  # 16 hex chars (8 bytes), normalised to upper case
    meter_no: str
    key_revision: int
    issuer_id: int

    NAME: ClassVar[str] = "CardInfo"
    SIZE: ClassVar[int] = 21
    HAS_MAC: ClassVar[bool] = False
    _FMT: ClassVar[struct.Struct] = struct.Struct(">BB8s6sBI")

    def __post_init__(self) -> None:
        object.__setattr__(self, "card_type", _enum(self.NAME, "card_type", self.card_type,
                                                    CardType))
        s = self.card_serial
        if not isinstance(s, str) or len(s) != 16 or not s.isascii():
            raise RecordError(self.NAME, "card_serial", f"must be 16 hex chars, got {s!r}")
        try:
            bytes.fromhex(s)
        except ValueError:
            raise RecordError(self.NAME, "card_serial", f"not hex: {s!r}") from None
        object.__setattr__(self, "card_serial", s.upper())
        _meter_no(self.NAME, self.meter_no)
        _uint(self.NAME, "key_revision", self.key_revision, U8)
        _uint(self.NAME, "issuer_id", self.issuer_id, U32)

    def to_bytes(self) -> bytes:
        return self._FMT.pack(FORMAT_VERSION, self.card_type, bytes.fromhex(self.card_serial),
                              bytes.fromhex(self.meter_no), self.key_revision, self.issuer_id)

    @classmethod
    def from_bytes(cls, data: bytes) -> CardInfo:
        data = _check_header(cls.NAME, data, cls.SIZE)
        _, ctype, serial, meter, rev, issuer = cls._FMT.unpack(data)
        return cls(card_type=_enum(cls.NAME, "card_type", ctype, CardType),  # type: ignore[arg-type]
                   card_serial=serial.hex().upper(),
                   meter_no=_bcd_decode(cls.NAME, "meter_no", meter),
                   key_revision=rev, issuer_id=issuer)

    def sign(self, key: bytes) -> CardInfo:
        raise RecordError(self.NAME, "mac", "CardInfo carries no MAC")

    def verify(self, key: bytes) -> CardInfo:
        raise RecordError(self.NAME, "mac", "CardInfo carries no MAC")


# --- PURCHASE -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PurchaseRecord(_Record):
    """Credit vended for one meter; the meter applies it once (sequence must increase)."""

    meter_no: str
    sequence: int
    credit: int
    credit_unit: CreditUnit
    tariff_version: int
    key_revision: int
    mac: bytes = field(default=NO_MAC, repr=False)

    NAME: ClassVar[str] = "PurchaseRecord"
    SIZE: ClassVar[int] = 27
    _FMT: ClassVar[struct.Struct] = struct.Struct(">B6sIIBHB8s")

    def __post_init__(self) -> None:
        _meter_no(self.NAME, self.meter_no)
        _uint(self.NAME, "sequence", self.sequence, U32)
        _uint(self.NAME, "credit", self.credit, U32)
        object.__setattr__(self, "credit_unit",
                           _credit_unit(self.NAME, "credit_unit", self.credit_unit))
        _uint(self.NAME, "tariff_version", self.tariff_version, U16)
        _uint(self.NAME, "key_revision", self.key_revision, U8)
        _mac_field(self.NAME, self.mac)

    def to_bytes(self) -> bytes:
        return self._FMT.pack(FORMAT_VERSION, bytes.fromhex(self.meter_no), self.sequence,
                              self.credit, UNIT_CODES[self.credit_unit], self.tariff_version,
                              self.key_revision, self.mac)

    @classmethod
    def from_bytes(cls, data: bytes) -> PurchaseRecord:
        data = _check_header(cls.NAME, data, cls.SIZE)
        _, meter, seq, credit, unit, tver, rev, tag = cls._FMT.unpack(data)
        return cls(meter_no=_bcd_decode(cls.NAME, "meter_no", meter), sequence=seq,
                   credit=credit, credit_unit=unit, tariff_version=tver, key_revision=rev,
                   mac=tag)


# --- TARIFF ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TariffRecord(_Record):
    """Tariff/parameter set for one meter: price and the two low-credit alarm thresholds."""

    meter_no: str
    version: int
    price_per_kwh: Decimal  # currency per kWh, 4 decimals, stored as u32 count of 0.0001
    alarm1: int  # credit units
    alarm2: int  # credit units
    mac: bytes = field(default=NO_MAC, repr=False)

    NAME: ClassVar[str] = "TariffRecord"
    SIZE: ClassVar[int] = 29
    _FMT: ClassVar[struct.Struct] = struct.Struct(">B6sHIII8s")

    def __post_init__(self) -> None:
        _meter_no(self.NAME, self.meter_no)
        _uint(self.NAME, "version", self.version, U16)
        price = self.price_per_kwh
        if isinstance(price, bool) or not isinstance(price, Decimal | int):
            raise RecordError(self.NAME, "price_per_kwh",
                              f"must be Decimal (never float), got {type(price).__name__}")
        try:
            price = Decimal(price)
            units = price / PRICE_SCALE
            if not price.is_finite() or units != units.to_integral_value():
                raise RecordError(self.NAME, "price_per_kwh",
                                  f"{price} has more than 4 decimals")
        except InvalidOperation:
            raise RecordError(self.NAME, "price_per_kwh", f"{price} is not a number") from None
        if not 0 <= units <= U32:
            raise RecordError(self.NAME, "price_per_kwh",
                              f"{price} outside 0..{Decimal(U32) * PRICE_SCALE}")
        object.__setattr__(self, "price_per_kwh", price.quantize(PRICE_SCALE))
        _uint(self.NAME, "alarm1", self.alarm1, U32)
        _uint(self.NAME, "alarm2", self.alarm2, U32)
        _mac_field(self.NAME, self.mac)

    @property
    def price_units(self) -> int:
        """Price as the stored integer count of 0.0001 currency per kWh."""
        return int(self.price_per_kwh / PRICE_SCALE)

    def to_bytes(self) -> bytes:
        return self._FMT.pack(FORMAT_VERSION, bytes.fromhex(self.meter_no), self.version,
                              self.price_units, self.alarm1, self.alarm2, self.mac)

    @classmethod
    def from_bytes(cls, data: bytes) -> TariffRecord:
        data = _check_header(cls.NAME, data, cls.SIZE)
        _, meter, ver, price, a1, a2, tag = cls._FMT.unpack(data)
        return cls(meter_no=_bcd_decode(cls.NAME, "meter_no", meter), version=ver,
                   price_per_kwh=Decimal(price) * PRICE_SCALE, alarm1=a1, alarm2=a2, mac=tag)


# --- READBACK -------------------------------------------------------------------------------

FLAG_RELAY_OPEN = 0x01
FLAG_ALARM_ACTIVE = 0x02


@dataclass(frozen=True)
class ReadbackRecord(_Record):
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
        _meter_no(n, self.meter_no)
        for name in ("energy_wh", "remaining", "overdraft", "last_sequence",
                     "cumulative_purchase", "readback_no"):
            _uint(n, name, getattr(self, name), U32)
        for name in ("purchase_count", "alarm_count", "cutoff_count", "tamper_count",
                     "power_down_count", "tariff_version"):
            _uint(n, name, getattr(self, name), U16)
        object.__setattr__(self, "credit_unit",
                           _credit_unit(n, "credit_unit", self.credit_unit))
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
        _mac_field(n, self.mac)

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
        data = _check_header(cls.NAME, data, cls.SIZE)
        (_, meter, energy, remaining, overdraft, pcount, last_seq, cum, unit, flags,
         alarms, cutoffs, tampers, power_downs, seconds, tver, rb_no, tag) = cls._FMT.unpack(data)
        if flags & ~(FLAG_RELAY_OPEN | FLAG_ALARM_ACTIVE):
            raise RecordError(cls.NAME, "flags", f"reserved bits set in {flags:02X}")
        return cls(meter_no=_bcd_decode(cls.NAME, "meter_no", meter), energy_wh=energy,
                   remaining=remaining, overdraft=overdraft, purchase_count=pcount,
                   last_sequence=last_seq, cumulative_purchase=cum, credit_unit=unit,
                   relay_open=bool(flags & FLAG_RELAY_OPEN),
                   alarm_active=bool(flags & FLAG_ALARM_ACTIVE), alarm_count=alarms,
                   cutoff_count=cutoffs, tamper_count=tampers, power_down_count=power_downs,
                   timestamp=EPOCH + timedelta(seconds=seconds), tariff_version=tver,
                   readback_no=rb_no, mac=tag)


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
            _uint(rec, f"{name}.{attr}", getattr(self, attr), limit)
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
class ParameterRecord(_Record):
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
        _meter_no(n, self.meter_no)
        _uint(n, "version", self.version, U16)
        for name in ("alarm1", "alarm2", "overdraft_limit", "hoarding_limit", "power_limit_w"):
            _uint(n, name, getattr(self, name), U32)
        if self.alarm2 > self.alarm1:
            raise RecordError(n, "alarm2", f"{self.alarm2} above alarm1 {self.alarm1}")
        object.__setattr__(self, "friendly_periods", tuple(self.friendly_periods))
        object.__setattr__(self, "tariff_rates", tuple(self.tariff_rates))
        if len(self.friendly_periods) > MAX_FRIENDLY_PERIODS:
            raise RecordError(n, "friendly_periods", f"at most {MAX_FRIENDLY_PERIODS}")
        for i, fp in enumerate(self.friendly_periods):
            fp.check(n, i)
        _uint(n, "tariff_version", self.tariff_version, U16)
        rates = self.tariff_rates
        if not 1 <= len(rates) <= MAX_TARIFF_RATES:
            raise RecordError(n, "tariff_rates", f"1..{MAX_TARIFF_RATES} rates, got {len(rates)}")
        if rates[0].start_minute != 0:
            raise RecordError(n, "tariff_rates[0].start_minute", "first rate must start at 0")
        for i, r in enumerate(rates):
            _uint(n, f"tariff_rates[{i}].start_minute", r.start_minute, 1439)
            if i and r.start_minute <= rates[i - 1].start_minute:
                raise RecordError(n, f"tariff_rates[{i}].start_minute", "must increase")
            _price_units(n, f"tariff_rates[{i}].price_per_kwh", r.price_per_kwh)
        _uint(n, "key_revision", self.key_revision, U8)
        _mac_field(n, self.mac)

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
        data = _check_header(cls.NAME, data, cls.SIZE)
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
        return cls(meter_no=_bcd_decode(cls.NAME, "meter_no", meter), version=ver, alarm1=a1,
                   alarm2=a2, overdraft_limit=od, hoarding_limit=hoard, power_limit_w=power,
                   friendly_periods=periods, tariff_version=tver, tariff_rates=tuple(table),
                   key_revision=rev, mac=tag)


class ClearAction(IntEnum):
    TEST = 0  # lab test: the meter shows its state and writes a readback, changes nothing
    CLEAR_EVENTS = 1  # zero the event counters (alarms, cut-offs, tamper, power-downs)


@dataclass(frozen=True)
class ClearRecord(_Record):
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
        _meter_no(self.NAME, self.meter_no)
        _uint(self.NAME, "clear_no", self.clear_no, U16)
        object.__setattr__(self, "action", _enum(self.NAME, "action", self.action, ClearAction))
        _uint(self.NAME, "key_revision", self.key_revision, U8)
        _mac_field(self.NAME, self.mac)

    def to_bytes(self) -> bytes:
        return self._FMT.pack(FORMAT_VERSION, bytes.fromhex(self.meter_no), self.clear_no,
                              self.action, self.key_revision, self.mac)

    @classmethod
    def from_bytes(cls, data: bytes) -> ClearRecord:
        data = _check_header(cls.NAME, data, cls.SIZE)
        _, meter, no, action, rev, tag = cls._FMT.unpack(data)
        return cls(meter_no=_bcd_decode(cls.NAME, "meter_no", meter), clear_no=no,
                   action=action, key_revision=rev, mac=tag)


@dataclass(frozen=True)
class KeyChangeRecord(_Record):
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
        _meter_no(self.NAME, self.meter_no)
        _uint(self.NAME, "old_revision", self.old_revision, U8)
        _uint(self.NAME, "new_revision", self.new_revision, U8)
        if self.new_revision <= self.old_revision:
            raise RecordError(self.NAME, "new_revision",
                              f"{self.new_revision} not above old revision {self.old_revision}")
        if not isinstance(self.wrapped_key, bytes) or len(self.wrapped_key) != 24:
            raise RecordError(self.NAME, "wrapped_key", "must be 24 bytes")
        _mac_field(self.NAME, self.mac)

    def __repr__(self) -> str:  # the wrapped key is ciphertext, but keep it out of logs anyway
        return (f"KeyChangeRecord(meter_no={self.meter_no!r}, old_revision={self.old_revision},"
                f" new_revision={self.new_revision})")

    def to_bytes(self) -> bytes:
        return self._FMT.pack(FORMAT_VERSION, bytes.fromhex(self.meter_no), self.old_revision,
                              self.new_revision, self.wrapped_key, self.mac)

    @classmethod
    def from_bytes(cls, data: bytes) -> KeyChangeRecord:
        data = _check_header(cls.NAME, data, cls.SIZE)
        _, meter, old, new, wrapped, tag = cls._FMT.unpack(data)
        return cls(meter_no=_bcd_decode(cls.NAME, "meter_no", meter), old_revision=old,
                   new_revision=new, wrapped_key=wrapped, mac=tag)


for _cls in (CardInfo, PurchaseRecord, TariffRecord, ReadbackRecord, ParameterRecord,
             ClearRecord, KeyChangeRecord):
    assert _cls._FMT.size == _cls.SIZE, _cls  # layout and documented size must agree
