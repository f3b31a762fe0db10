"""The records a vending station writes for a sale: the card's personalisation (CARD_INFO),
the purchase and the tariff (layouts: docs/card-spec.md; shared checks: record_fields.py)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import ClassVar

from rig.card.apdu import RecordError
from rig.card.record_fields import (
    FORMAT_VERSION,
    NO_MAC,
    PRICE_SCALE,
    U8,
    U16,
    U32,
    UNIT_CODES,
    CardRecord,
    CardType,
    bcd_decode,
    check_header,
    check_mac,
    check_meter_no,
    check_uint,
    credit_unit_field,
    enum_field,
)
from rig.credit_unit import CreditUnit

# --- CARD_INFO ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CardInfo(CardRecord):
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
        object.__setattr__(self, "card_type", enum_field(self.NAME, "card_type", self.card_type,
                                                    CardType))
        s = self.card_serial
        if not isinstance(s, str) or len(s) != 16 or not s.isascii():
            raise RecordError(self.NAME, "card_serial", f"must be 16 hex chars, got {s!r}")
        try:
            bytes.fromhex(s)
        except ValueError:
            raise RecordError(self.NAME, "card_serial", f"not hex: {s!r}") from None
        object.__setattr__(self, "card_serial", s.upper())
        check_meter_no(self.NAME, self.meter_no)
        check_uint(self.NAME, "key_revision", self.key_revision, U8)
        check_uint(self.NAME, "issuer_id", self.issuer_id, U32)

    def to_bytes(self) -> bytes:
        return self._FMT.pack(FORMAT_VERSION, self.card_type, bytes.fromhex(self.card_serial),
                              bytes.fromhex(self.meter_no), self.key_revision, self.issuer_id)

    @classmethod
    def from_bytes(cls, data: bytes) -> CardInfo:
        data = check_header(cls.NAME, data, cls.SIZE)
        _, ctype, serial, meter, rev, issuer = cls._FMT.unpack(data)
        return cls(card_type=enum_field(cls.NAME, "card_type", ctype, CardType),  # type: ignore[arg-type]
                   card_serial=serial.hex().upper(),
                   meter_no=bcd_decode(cls.NAME, "meter_no", meter),
                   key_revision=rev, issuer_id=issuer)

    def sign(self, key: bytes) -> CardInfo:
        raise RecordError(self.NAME, "mac", "CardInfo carries no MAC")

    def verify(self, key: bytes) -> CardInfo:
        raise RecordError(self.NAME, "mac", "CardInfo carries no MAC")


# --- PURCHASE -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PurchaseRecord(CardRecord):
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
        check_meter_no(self.NAME, self.meter_no)
        check_uint(self.NAME, "sequence", self.sequence, U32)
        check_uint(self.NAME, "credit", self.credit, U32)
        object.__setattr__(self, "credit_unit",
                           credit_unit_field(self.NAME, "credit_unit", self.credit_unit))
        check_uint(self.NAME, "tariff_version", self.tariff_version, U16)
        check_uint(self.NAME, "key_revision", self.key_revision, U8)
        check_mac(self.NAME, self.mac)

    def to_bytes(self) -> bytes:
        return self._FMT.pack(FORMAT_VERSION, bytes.fromhex(self.meter_no), self.sequence,
                              self.credit, UNIT_CODES[self.credit_unit], self.tariff_version,
                              self.key_revision, self.mac)

    @classmethod
    def from_bytes(cls, data: bytes) -> PurchaseRecord:
        data = check_header(cls.NAME, data, cls.SIZE)
        _, meter, seq, credit, unit, tver, rev, tag = cls._FMT.unpack(data)
        return cls(meter_no=bcd_decode(cls.NAME, "meter_no", meter), sequence=seq,
                   credit=credit, credit_unit=unit, tariff_version=tver, key_revision=rev,
                   mac=tag)


# --- TARIFF ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TariffRecord(CardRecord):
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
        check_meter_no(self.NAME, self.meter_no)
        check_uint(self.NAME, "version", self.version, U16)
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
        check_uint(self.NAME, "alarm1", self.alarm1, U32)
        check_uint(self.NAME, "alarm2", self.alarm2, U32)
        check_mac(self.NAME, self.mac)

    @property
    def price_units(self) -> int:
        """Price as the stored integer count of 0.0001 currency per kWh."""
        return int(self.price_per_kwh / PRICE_SCALE)

    def to_bytes(self) -> bytes:
        return self._FMT.pack(FORMAT_VERSION, bytes.fromhex(self.meter_no), self.version,
                              self.price_units, self.alarm1, self.alarm2, self.mac)

    @classmethod
    def from_bytes(cls, data: bytes) -> TariffRecord:
        data = check_header(cls.NAME, data, cls.SIZE)
        _, meter, ver, price, a1, a2, tag = cls._FMT.unpack(data)
        return cls(meter_no=bcd_decode(cls.NAME, "meter_no", meter), version=ver,
                   price_per_kwh=Decimal(price) * PRICE_SCALE, alarm1=a1, alarm2=a2, mac=tag)
