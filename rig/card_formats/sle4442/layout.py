"""The prepaid user-card layout of rig's SLE 4442 format (docs/card-formats/sle4442.md).

Fixed blocks in the 256-byte main memory, each closed by a CRC-16/CCITT-FALSE (poly 1021h,
init FFFFh, big-endian) over the block's other bytes. An erased block (all FFh, as a new chip
or a cleared block reads) decodes as ``None``. A checksum is no MAC: it finds torn writes and
corrupt cards, never a forged block (anyone with the PSC can write a valid one).
"""

from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import IntEnum
from typing import ClassVar, TypeVar

from rig.card.apdu import RecordError
from rig.card_formats.field_units import PRICE_SCALE, price_units
from rig.card_formats.field_units import unsigned as _u
from rig.card_formats.readback_registers import ReadbackRegisters

LAYOUT_VERSION = 1
IDENTITY_AT, IDENTITY_SIZE = 0x04, 28
FROZEN_SIZE = 9  # the identity's layout version and card serial: write-protected at issue
PURCHASE_AT = 0x20
PARAMETERS_AT = 0x40
CLEAR_AT = 0x60
READBACK_SLOTS = (0x80, 0xC0)  # two slots: the meter writes the older one
BLOCK_SIZE = 32
CLEAR_SIZE = 16
READBACK_SIZE = 64
READBACK_TAG = 0x53  # "S"
MAC_SIZE = 8
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
ERASED = 0xFF


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (check value of b"123456789": 29B1h)."""
    return binascii.crc_hqx(data, 0xFFFF)


class CardKindCode(IntEnum):
    USER = 1
    PARAMETER = 2
    CHECK = 3
    CLEAR = 4


class UnitCode(IntEnum):
    MONEY_CENTS = 1
    ENERGY_WH = 2


UNIT_NAMES = {UnitCode.MONEY_CENTS: "money_cents", UnitCode.ENERGY_WH: "energy_wh"}
UNITS = {name: code for code, name in UNIT_NAMES.items()}


def bcd_meter(name: str, meter_no: str) -> bytes:
    if len(meter_no) != 12 or not meter_no.isdigit():
        raise RecordError(name, "meter_no", f"must be 12 decimal digits, got {meter_no!r}")
    return bytes.fromhex(meter_no)


def meter_from_bcd(name: str, raw: bytes) -> str:
    text = raw.hex()
    if not text.isdigit():
        raise RecordError(name, "meter_no", f"{raw.hex(' ').upper()} is not BCD")
    return text


def _seal(body: bytes) -> bytes:
    return body + crc16(body).to_bytes(2, "big")


def _open(name: str, raw: bytes, size: int) -> bytes | None:
    """The block's body, None if erased; RecordError if its checksum fails."""
    if len(raw) != size:
        raise RecordError(name, "size", f"{len(raw)} bytes, expected {size}")
    if raw == bytes([ERASED]) * size:
        return None
    body, crc = raw[:-2], int.from_bytes(raw[-2:], "big")
    if crc16(body) != crc:
        raise RecordError(name, "crc", f"checksum {crc:04X} does not match the block "
                          f"({crc16(body):04X}): torn write or corrupt card")
    return body


B = TypeVar("B", bound="_Block")


class _Block:
    NAME: ClassVar[str]
    SIZE: ClassVar[int]

    def body(self) -> bytes:
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        body = self.body()
        assert len(body) == self.SIZE - 2, (self.NAME, len(body))
        return _seal(body)

    @classmethod
    def decode(cls: type[B], raw: bytes) -> B | None:
        body = _open(cls.NAME, bytes(raw), cls.SIZE)
        return None if body is None else cls.from_body(body)

    @classmethod
    def from_body(cls: type[B], body: bytes) -> B:
        raise NotImplementedError


@dataclass(frozen=True)
class Identity(_Block):
    """Who the card is for. Its first 9 bytes (layout version, card serial) are frozen by
    the protection bits at issue; kind, key revision and meter may be re-issued."""

    NAME: ClassVar[str] = "IDENTITY"
    SIZE: ClassVar[int] = IDENTITY_SIZE
    _FMT: ClassVar[str] = ">B8sBBx6s8x"

    kind: CardKindCode
    key_revision: int
    card_serial: str  # 16 hex digits
    meter_no: str

    def body(self) -> bytes:
        try:
            serial = bytes.fromhex(self.card_serial)
        except ValueError:
            serial = b""
        if len(serial) != 8:
            raise RecordError(self.NAME, "card_serial", f"must be 16 hex digits, got "
                              f"{self.card_serial!r}")
        return struct.pack(self._FMT, LAYOUT_VERSION, serial, int(self.kind),
                           _u(self.NAME, "key_revision", self.key_revision, 1),
                           bcd_meter(self.NAME, self.meter_no))

    @classmethod
    def from_body(cls, body: bytes) -> Identity:
        version, serial, kind, rev, meter = struct.unpack(cls._FMT, body)
        if version != LAYOUT_VERSION:
            raise RecordError(cls.NAME, "version", f"layout {version}, this meter reads "
                              f"{LAYOUT_VERSION}")
        try:
            code = CardKindCode(kind)
        except ValueError:
            raise RecordError(cls.NAME, "kind", f"{kind:02X}h is no card kind") from None
        return cls(code, rev, serial.hex().upper(), meter_from_bcd(cls.NAME, meter))


@dataclass(frozen=True)
class PurchaseBlock(_Block):
    """One vend: the purchase count the meter must be at plus one, and its credit."""

    NAME: ClassVar[str] = "PURCHASE"
    SIZE: ClassVar[int] = BLOCK_SIZE
    _FMT: ClassVar[str] = ">IIBxHIII6s"

    sequence: int  # the purchase count: the meter applies last + 1 only
    credit: int
    unit: UnitCode
    tariff_version: int
    price_per_kwh: Decimal
    alarm1: int
    alarm2: int
    meter_no: str

    def body(self) -> bytes:
        n = self.NAME
        return struct.pack(self._FMT, _u(n, "sequence", self.sequence, 4),
                           _u(n, "credit", self.credit, 4), int(self.unit),
                           _u(n, "tariff_version", self.tariff_version, 2),
                           price_units(n, self.price_per_kwh), _u(n, "alarm1", self.alarm1, 4),
                           _u(n, "alarm2", self.alarm2, 4), bcd_meter(n, self.meter_no))

    @classmethod
    def from_body(cls, body: bytes) -> PurchaseBlock:
        seq, credit, unit, tver, price, a1, a2, meter = struct.unpack(cls._FMT, body)
        return cls(seq, credit, _unit(cls.NAME, unit), tver, Decimal(price) * PRICE_SCALE,
                   a1, a2, meter_from_bcd(cls.NAME, meter))


@dataclass(frozen=True)
class ParameterBlock(_Block):
    NAME: ClassVar[str] = "PARAMETERS"
    SIZE: ClassVar[int] = BLOCK_SIZE
    _FMT: ClassVar[str] = ">HIIIIIHI2x"

    version: int
    alarm1: int
    alarm2: int
    overdraft_limit: int
    hoarding_limit: int
    power_limit_w: int
    tariff_version: int
    price_per_kwh: Decimal

    def body(self) -> bytes:
        n = self.NAME
        return struct.pack(self._FMT, _u(n, "version", self.version, 2),
                           *(_u(n, f, getattr(self, f), 4) for f in (
                               "alarm1", "alarm2", "overdraft_limit", "hoarding_limit",
                               "power_limit_w")),
                           _u(n, "tariff_version", self.tariff_version, 2),
                           price_units(n, self.price_per_kwh))

    @classmethod
    def from_body(cls, body: bytes) -> ParameterBlock:
        ver, a1, a2, od, hoard, power, tver, price = struct.unpack(cls._FMT, body)
        return cls(ver, a1, a2, od, hoard, power, tver, Decimal(price) * PRICE_SCALE)


class ClearAction(IntEnum):
    CLEAR_EVENTS = 1
    TEST = 2


@dataclass(frozen=True)
class ClearBlock(_Block):
    NAME: ClassVar[str] = "CLEAR"
    SIZE: ClassVar[int] = CLEAR_SIZE
    _FMT: ClassVar[str] = ">IB9x"

    clear_no: int
    action: ClearAction

    def body(self) -> bytes:
        return struct.pack(self._FMT, _u(self.NAME, "clear_no", self.clear_no, 4),
                           int(self.action))

    @classmethod
    def from_body(cls, body: bytes) -> ClearBlock:
        no, action = struct.unpack(cls._FMT, body)
        try:
            return cls(no, ClearAction(action))
        except ValueError:
            raise RecordError(cls.NAME, "action", f"{action:02X}h is no clear action") from None


@dataclass(frozen=True, kw_only=True)
class ReadbackBlock(ReadbackRegisters, _Block):
    """What the meter writes back: its registers (:class:`ReadbackRegisters`), the last
    refusal of one of its cards, and the meter's own MAC over them (the card has no keys: the
    meter computes it under its readback key). The record the centre receives is these 64
    bytes (``rig.readback_formats`` "sle4442-v1")."""

    NAME: ClassVar[str] = "READBACK"
    SIZE: ClassVar[int] = READBACK_SIZE
    _FMT: ClassVar[str] = ">BBH6sBBIIIIIIHHHHIHBH8sx"
    SIGNED: ClassVar[int] = 53  # the MAC covers bytes 0..52

    unit: UnitCode
    refusal_code: int = 0  # State Grid card error code of the last refusal (0 = none)

    def signed(self) -> bytes:
        """The bytes the meter's MAC covers."""
        return self.body()[:self.SIGNED]

    def body(self) -> bytes:
        n = self.NAME
        ts = self.timestamp
        if ts.tzinfo is None:
            raise RecordError(n, "timestamp", "must be timezone-aware (UTC)")
        seconds = int((ts - EPOCH).total_seconds())
        flags = int(self.relay_open) | int(self.alarm_active) << 1
        return struct.pack(
            self._FMT, READBACK_TAG, LAYOUT_VERSION, _u(n, "generation", self.generation, 2),
            bcd_meter(n, self.meter_no), int(self.unit), flags,
            *(_u(n, f, getattr(self, f), 4) for f in (
                "energy_wh", "remaining", "overdraft", "purchase_count", "last_sequence",
                "cumulative_purchase")),
            *(_u(n, f, getattr(self, f), 2) for f in (
                "alarm_count", "cutoff_count", "tamper_count", "power_down_count")),
            _u(n, "timestamp", seconds, 4), _u(n, "tariff_version", self.tariff_version, 2),
            _u(n, "refusal_code", self.refusal_code, 1),
            _u(n, "refusal_count", self.refusal_count, 2), _mac(self.mac))

    @classmethod
    def from_body(cls, body: bytes) -> ReadbackBlock:
        (tag, version, gen, meter, unit, flags, energy, remaining, overdraft, count, last,
         cumulative, alarms, cutoffs, tampers, downs, seconds, tver, code, refusals,
         tag_) = struct.unpack(cls._FMT, body)
        if tag != READBACK_TAG or version != LAYOUT_VERSION:
            raise RecordError(cls.NAME, "tag", f"{tag:02X}h {version:02X}h is not an SLE 4442 "
                              "readback of layout 1")
        return cls(gen, meter_from_bcd(cls.NAME, meter), bool(flags & 1), bool(flags & 2),
                   energy, remaining, overdraft, count, last, cumulative, alarms, cutoffs,
                   tampers, downs, EPOCH + timedelta(seconds=seconds), tver, refusals, tag_,
                   unit=_unit(cls.NAME, unit), refusal_code=code)


def _mac(tag: bytes) -> bytes:
    if len(tag) != MAC_SIZE:
        raise RecordError(ReadbackBlock.NAME, "mac", f"{len(tag)} bytes, expected {MAC_SIZE}")
    return tag


def _unit(name: str, code: int) -> UnitCode:
    try:
        return UnitCode(code)
    except ValueError:
        raise RecordError(name, "unit", f"{code:02X}h is no credit unit") from None


def newest_readback(slots: tuple[bytes, bytes]) -> tuple[int, ReadbackBlock | None]:
    """(index of the slot to write next, newest valid readback). A torn or erased slot is
    skipped: the other one still holds the previous readback."""
    found: list[tuple[int, ReadbackBlock]] = []
    for i, raw in enumerate(slots):
        try:
            block = ReadbackBlock.decode(raw)
        except RecordError:
            block = None
        if block is not None:
            found.append((i, block))
    if not found:
        return 0, None
    index, newest = found[0]
    if len(found) == 2 and _later(found[1][1].generation, newest.generation):
        index, newest = found[1]
    return 1 - index, newest


def _later(a: int, b: int) -> bool:
    """Is generation ``a`` after ``b``? (Serial-number arithmetic: the u16 wraps.)"""
    return 0 < (a - b) & 0xFFFF < 0x8000
