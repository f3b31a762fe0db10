"""The files of an esam-cpu user card and their records (docs/card-formats/esam-cpu.md).

MF ``3F00`` holds the card serial (EF ``0005``, written once); the application DF (AID
:data:`AID`) holds the card-information/purchase file (``0001``), the parameter file
(``0002``), the return-write file (``0003``, the meter's) and the key-update file (``0004``).
Integers are unsigned big-endian, meter and customer numbers 6 bytes packed BCD, credit in
card units (cents or Wh), prices in 1/10000 of the money unit per kWh. A file of zeros is
empty (as issued). The office's records end with a 4-byte SM4 MAC under ``card-purchase``
(dispersed by the card serial, zero IV), checked by the meter's ESAM; the meter's return-write
record ends with an 8-byte AES-CMAC under its readback key, checked by the billing centre.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import IntEnum
from typing import ClassVar

from rig.card.apdu import RecordError
from rig.card.readback_format import FIELDS as READBACK_FIELDS
from rig.card_formats.field_units import PRICE_SCALE, price_units
from rig.card_formats.field_units import unsigned as _u
from rig.card_formats.interface import ENERGY_WH, MONEY_CENTS, CardKind
from rig.card_formats.readback_registers import ReadbackRegisters
from rig.esam.keys import KeyId, KeyState

AID = bytes.fromhex("F0524947455341") + b"\x01"  # RID F0 (proprietary) + "RIGESA" + version 1
MF = 0x3F00
FID_SERIAL = 0x0005  # under MF
FID_INFO = 0x0001
FID_PARAMETERS = 0x0002
FID_RETURN = 0x0003
FID_KEY_UPDATE = 0x0004
EF_SIZES = {FID_SERIAL: 8, FID_INFO: 64, FID_PARAMETERS: 48, FID_RETURN: 80,
            FID_KEY_UPDATE: 1 + 9 * 32}
DF_FILES = (FID_INFO, FID_PARAMETERS, FID_RETURN, FID_KEY_UPDATE)
CARD_KEYS = (KeyId.CARD_ISSUE, KeyId.CARD_INTERNAL, KeyId.CARD_EXTERNAL, KeyId.CARD_RETURN)
OFFICE_MAC_LEN = 4
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
RETURN_TAG = 0x52  # "R"
LAYOUT_VERSION = 1
REGISTER_MAX = 99_999_999  # 999,999.99 in cents: the remaining-credit register's ceiling


class CardType(IntEnum):
    """The card-information file's card type byte."""

    OPEN_ACCOUNT = 0x01  # a user card's first purchase: binds card, meter and customer
    PURCHASE = 0x02
    REPLACEMENT = 0x03  # a reissued user card: the meter moves its binding to it
    PARAMETER = 0x04
    PRESET = 0x05  # clears the meter's event counters (ClearCommand)
    TEST = 0x06  # shows the meter's state, changes nothing (ClearCommand test_only)
    KEY_UPDATE = 0x07
    CHECK = 0x08  # collects the meter's running information

    @property
    def kind(self) -> CardKind:
        return _KINDS[self]

    @property
    def user(self) -> bool:
        return self in (CardType.OPEN_ACCOUNT, CardType.PURCHASE, CardType.REPLACEMENT)


_KINDS = {CardType.OPEN_ACCOUNT: CardKind.USER, CardType.PURCHASE: CardKind.USER,
          CardType.REPLACEMENT: CardKind.REPLACEMENT, CardType.PARAMETER: CardKind.PARAMETER,
          CardType.PRESET: CardKind.CLEAR, CardType.TEST: CardKind.CLEAR,
          CardType.KEY_UPDATE: CardKind.KEY_CHANGE, CardType.CHECK: CardKind.CHECK}
ISSUED_AS = {CardKind.USER: CardType.OPEN_ACCOUNT, CardKind.REPLACEMENT: CardType.REPLACEMENT,
             CardKind.PARAMETER: CardType.PARAMETER, CardKind.CLEAR: CardType.PRESET,
             CardKind.KEY_CHANGE: CardType.KEY_UPDATE, CardKind.CHECK: CardType.CHECK}
UNIT_CODES = {MONEY_CENTS: 1, ENERGY_WH: 2}
UNIT_NAMES = {code: name for name, code in UNIT_CODES.items()}


def key_state_of(key_revision: int) -> KeyState:
    """rig's mapping: key revision 0 is the public (test) key state, any other the private."""
    return KeyState.PUBLIC if key_revision == 0 else KeyState.PRIVATE


def revision_of(state: KeyState) -> int:
    return 0 if state is KeyState.PUBLIC else 1


def bcd(name: str, field: str, digits: str) -> bytes:
    if len(digits) != 12 or not digits.isascii() or not digits.isdigit():
        raise RecordError(name, field, f"must be 12 decimal digits, got {digits!r}")
    return bytes.fromhex(digits)


def from_bcd(name: str, field: str, raw: bytes) -> str:
    text = raw.hex()
    if not text.isdigit():
        raise RecordError(name, field, f"{raw.hex(' ').upper()} is not BCD")
    return text


def serial_bytes(name: str, card_serial: str) -> bytes:
    try:
        raw = bytes.fromhex(card_serial)
    except ValueError:
        raw = b""
    if len(raw) != 8:
        raise RecordError(name, "card_serial", f"must be 16 hex digits, got {card_serial!r}")
    return raw


def unit_name(name: str, code: int) -> str:
    try:
        return UNIT_NAMES[code]
    except KeyError:
        raise RecordError(name, "credit_unit", f"{code:02X}h is neither 01 nor 02") from None


def _body(name: str, raw: bytes, size: int) -> bytes | None:
    if len(raw) != size:
        raise RecordError(name, "size", f"{len(raw)} bytes, expected {size}")
    return None if not any(raw) else raw


@dataclass(frozen=True)
class CardInfo:
    """EF 0001, the card-information/purchase file: who the card is for and the purchase it
    carries, MAC'd by the office under ``card-purchase`` over the card serial and the file."""

    NAME: ClassVar[str] = "CARD INFORMATION"
    SIZE: ClassVar[int] = 64
    _FMT: ClassVar[str] = ">BB6s6sIIBHIIII15x"  # 56 bytes, then the MAC (4) and 4 zero bytes

    card_type: CardType
    key_state: KeyState
    meter_no: str
    customer_no: str
    purchase_count: int = 0
    credit: int = 0  # card units of this purchase
    credit_unit: str = MONEY_CENTS
    tariff_version: int = 0
    price_per_kwh: Decimal = Decimal(0)
    alarm1: int = 0  # alarm levels sent with the vend (0: the meter keeps its own)
    alarm2: int = 0
    command_no: int = 0  # a preset/test card's clear number
    mac: bytes = bytes(OFFICE_MAC_LEN)

    def signed(self) -> bytes:
        """The bytes the office's MAC covers (the card serial is prepended by the caller)."""
        n = self.NAME
        if self.credit_unit not in UNIT_CODES:
            raise RecordError(n, "credit_unit", f"{self.credit_unit!r}")
        return struct.pack(
            self._FMT, int(self.card_type), self.key_state.code,
            bcd(n, "meter_no", self.meter_no), bcd(n, "customer_no", self.customer_no),
            _u(n, "purchase_count", self.purchase_count, 4), _u(n, "credit", self.credit, 4),
            UNIT_CODES[self.credit_unit], _u(n, "tariff_version", self.tariff_version, 2),
            price_units(n, self.price_per_kwh), _u(n, "alarm1", self.alarm1, 4),
            _u(n, "alarm2", self.alarm2, 4), _u(n, "command_no", self.command_no, 4))

    def to_bytes(self) -> bytes:
        return self.signed() + self.mac + bytes(4)

    @classmethod
    def decode(cls, raw: bytes) -> CardInfo | None:
        body = _body(cls.NAME, bytes(raw), cls.SIZE)
        if body is None:
            return None
        (ctype, state, meter, customer, count, credit, unit, tver, price, a1, a2,
         cmd) = struct.unpack(cls._FMT, body[:56])
        try:
            card_type = CardType(ctype)
        except ValueError:
            raise RecordError(cls.NAME, "card_type", f"{ctype:02X}h is no card type") from None
        if state not in (0, 1):
            raise RecordError(cls.NAME, "key_state", f"{state:02X}h is neither 00 nor 01")
        return cls(card_type, (KeyState.PUBLIC, KeyState.PRIVATE)[state],
                   from_bcd(cls.NAME, "meter_no", meter),
                   from_bcd(cls.NAME, "customer_no", customer), count, credit,
                   unit_name(cls.NAME, unit), tver, Decimal(price) * PRICE_SCALE, a1, a2, cmd,
                   body[56:60])


@dataclass(frozen=True)
class Parameters:
    """EF 0002 of a parameter card, MAC'd by the office like the card-information file."""

    NAME: ClassVar[str] = "PARAMETERS"
    SIZE: ClassVar[int] = 48
    _FMT: ClassVar[str] = ">H6sIIIIIHI10x"  # 44 bytes, then the MAC

    version: int
    meter_no: str
    alarm1: int
    alarm2: int
    overdraft_limit: int
    hoarding_limit: int  # 0: none
    power_limit_w: int
    tariff_version: int = 0
    price_per_kwh: Decimal = Decimal(0)
    mac: bytes = bytes(OFFICE_MAC_LEN)

    def signed(self) -> bytes:
        n = self.NAME
        return struct.pack(
            self._FMT, _u(n, "version", self.version, 2), bcd(n, "meter_no", self.meter_no),
            _u(n, "alarm1", self.alarm1, 4), _u(n, "alarm2", self.alarm2, 4),
            _u(n, "overdraft_limit", self.overdraft_limit, 4),
            _u(n, "hoarding_limit", self.hoarding_limit, 4),
            _u(n, "power_limit_w", self.power_limit_w, 4),
            _u(n, "tariff_version", self.tariff_version, 2), price_units(n, self.price_per_kwh))

    def to_bytes(self) -> bytes:
        return self.signed() + self.mac

    @classmethod
    def decode(cls, raw: bytes) -> Parameters | None:
        body = _body(cls.NAME, bytes(raw), cls.SIZE)
        if body is None:
            return None
        ver, meter, a1, a2, od, hoard, power, tver, price = struct.unpack(cls._FMT, body[:44])
        return cls(ver, from_bcd(cls.NAME, "meter_no", meter), a1, a2, od, hoard, power, tver,
                   Decimal(price) * PRICE_SCALE, body[44:48])


@dataclass(frozen=True)
class AbnormalInsertion:
    """The meter's last refused insertion, as its return-write record carries it."""

    code: int = 0  # State Grid card error code, 0: none
    command_header: bytes = bytes(5)
    status_word: int = 0


@dataclass(frozen=True, kw_only=True)
class ReturnRecord(ReadbackRegisters):
    """EF 0003, the return-write file: the meter's running information for the office (its
    registers, :class:`ReadbackRegisters`, and this format's extras). Written by the meter
    with UPDATE BINARY with MAC (the card checks the meter's ESAM's ``card-return`` MAC); the
    record's own MAC is the meter's readback MAC for the centre."""

    NAME: ClassVar[str] = "RETURN-WRITE"
    SIZE: ClassVar[int] = 80
    _FMT: ClassVar[str] = ">BBH6s8sBBIIIIIIHHHHIHB5sHHB3x"  # 72 bytes, then the MAC (8)

    card_serial: str  # the card the meter wrote it to
    credit_unit: str
    abnormal: AbnormalInsertion
    key_state: KeyState

    def signed(self) -> bytes:
        n = self.NAME
        flags = int(self.relay_open) | int(self.alarm_active) << 1
        seconds = int((self.timestamp - EPOCH).total_seconds())
        a = self.abnormal
        return struct.pack(
            self._FMT, RETURN_TAG, LAYOUT_VERSION, _u(n, "generation", self.generation, 2),
            bcd(n, "meter_no", self.meter_no), serial_bytes(n, self.card_serial),
            UNIT_CODES[self.credit_unit], flags, _u(n, "energy_wh", self.energy_wh, 4),
            _u(n, "remaining", self.remaining, 4), _u(n, "overdraft", self.overdraft, 4),
            _u(n, "purchase_count", self.purchase_count, 4),
            _u(n, "last_sequence", self.last_sequence, 4),
            _u(n, "cumulative_purchase", self.cumulative_purchase, 4),
            _u(n, "alarm_count", self.alarm_count, 2), _u(n, "cutoff_count", self.cutoff_count, 2),
            _u(n, "tamper_count", self.tamper_count, 2),
            _u(n, "power_down_count", self.power_down_count, 2),
            _u(n, "timestamp", seconds, 4), _u(n, "tariff_version", self.tariff_version, 2),
            _u(n, "abnormal code", a.code, 1), a.command_header.ljust(5, b"\0")[:5],
            _u(n, "abnormal status word", a.status_word, 2),
            _u(n, "refusal_count", self.refusal_count, 2), self.key_state.code)

    def to_bytes(self) -> bytes:
        return self.signed() + self.mac

    @classmethod
    def decode(cls, raw: bytes) -> ReturnRecord | None:
        """The record, None if the file is empty; RecordError naming the field if not one."""
        body = _body(cls.NAME, bytes(raw), cls.SIZE)
        if body is None:
            return None
        (tag, version, gen, meter, serial, unit, flags, energy, remaining, overdraft, count,
         last, cumulative, alarms, cutoffs, tampers, downs, seconds, tver, code, header, sw,
         refusals, state) = struct.unpack(cls._FMT, body[:72])
        if tag != RETURN_TAG or version != LAYOUT_VERSION:
            raise RecordError(cls.NAME, "tag", f"{tag:02X}h {version:02X}h is not a layout "
                              f"{LAYOUT_VERSION} return-write record")
        if state not in (0, 1):
            raise RecordError(cls.NAME, "key_state", f"{state:02X}h is neither 00 nor 01")
        return cls(gen, from_bcd(cls.NAME, "meter_no", meter), bool(flags & 1),
                   bool(flags & 2), energy, remaining, overdraft, count, last, cumulative,
                   alarms, cutoffs, tampers, downs, EPOCH + timedelta(seconds=seconds), tver,
                   refusals, body[72:80], card_serial=serial.hex().upper(),
                   credit_unit=unit_name(cls.NAME, unit),
                   abnormal=AbnormalInsertion(code, header, sw),
                   key_state=(KeyState.PUBLIC, KeyState.PRIVATE)[state])


def readback_fields(record: ReturnRecord) -> dict[str, object]:
    """The record's values, named as the centre's ``ReadbackData`` names them (the fields
    of rig's own readback record, which the return-write record has under the same names)."""
    return {name: getattr(record, name) for name in READBACK_FIELDS}


def key_update_file(packages: list[bytes]) -> bytes:
    """EF 0004: the number of packages, then each 32-byte sealed key package."""
    if len(packages) > 9 or any(len(p) != 32 for p in packages):
        raise RecordError("KEY UPDATE", "packages", "at most nine 32-byte key packages")
    return (bytes([len(packages)]) + b"".join(packages)).ljust(EF_SIZES[FID_KEY_UPDATE], b"\0")


def key_update_packages(raw: bytes) -> list[bytes]:
    count = raw[0] if raw else 0
    if count > 9 or len(raw) < 1 + 32 * count:
        raise RecordError("KEY UPDATE", "count", f"{count} packages in {len(raw)} bytes")
    return [raw[1 + 32 * i:33 + 32 * i] for i in range(count)]
