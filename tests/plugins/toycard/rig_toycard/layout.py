"""The toy card's file (128 bytes, one transparent file behind AID ``TOYCARD1``) and its
readback record, which the billing centre reads through the ``toy-v1`` readback format.

- bytes 0-25, header: ``TOY1``, kind (1 = user), serial (8), meter no (12 ASCII), key
  revision;
- bytes 32-55, purchase: sequence u32, credit u32, unit u8, tariff version u16, price u32
  (0.0001 a kWh), key revision u8, MAC (8) over meter no + those bytes;
- bytes 64-125, readback record (62 bytes, ``encode_readback``).
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from rig.card.keys import derive_meter_readback_key, derive_readback_mac_key
from rig.card.readback_format import RIG_V1
from rig.errors import CardError

AID = b"TOYCARD1"
FILE_SIZE = 128
HEADER, PURCHASE, READBACK = 0, 32, 64
MAGIC = b"TOY1"
KIND_USER = 1
MAC_LEN = 8
MONEY, ENERGY = 0, 1
UNITS = {MONEY: "money_cents", ENERGY: "energy_wh"}

_HEADER = struct.Struct(">4sB8s12sB")
_PURCHASE = struct.Struct(">IIBHIB")
_READBACK = struct.Struct(">4s12sIIIHIIBBHHHHIH")
RB_MAGIC = b"TRB1"
RB_SIZE = _READBACK.size + MAC_LEN


def mac(key: bytes, data: bytes) -> bytes:
    """The toy's MAC: HMAC-SHA256 truncated to 8 bytes."""
    return hmac.new(key, data, hashlib.sha256).digest()[:MAC_LEN]


def meter_key(master_secret: bytes, meter_no: str, key_revision: int) -> bytes:
    """The toy meter key: HMAC-SHA256(master, "TOY-METER" | meter no | revision)[:16]."""
    return hmac.new(master_secret, b"TOY-METER" + meter_no.encode() + bytes([key_revision]),
                    hashlib.sha256).digest()[:16]


@dataclass(frozen=True)
class Header:
    kind: int
    serial: str
    meter_no: str
    key_revision: int

    def to_bytes(self) -> bytes:
        return _HEADER.pack(MAGIC, self.kind, bytes.fromhex(self.serial),
                            self.meter_no.encode().ljust(12, b"\0"), self.key_revision)

    @classmethod
    def from_bytes(cls, raw: bytes) -> Header | None:
        magic, kind, serial, meter, rev = _HEADER.unpack(raw[:_HEADER.size])
        if magic != MAGIC:
            return None
        return cls(kind, serial.hex().upper(), meter.rstrip(b"\0").decode(), rev)


@dataclass(frozen=True)
class ToyPurchase:
    sequence: int
    credit: int
    unit: int
    tariff_version: int
    price_per_kwh: Decimal
    key_revision: int

    def body(self) -> bytes:
        price = int(self.price_per_kwh * 10000)
        return _PURCHASE.pack(self.sequence, self.credit, self.unit, self.tariff_version,
                              price, self.key_revision)

    def signed(self, key: bytes, meter_no: str) -> bytes:
        body = self.body()
        return body + mac(key, meter_no.encode() + body)

    @classmethod
    def from_bytes(cls, raw: bytes) -> tuple[ToyPurchase, bytes] | None:
        """The purchase and its MAC; None for an erased block."""
        body, tag = raw[:_PURCHASE.size], raw[_PURCHASE.size:_PURCHASE.size + MAC_LEN]
        if not any(body + tag):
            return None
        seq, credit, unit, tv, price, rev = _PURCHASE.unpack(body)
        if unit not in UNITS:
            raise CardError(f"toy purchase: credit unit {unit} is neither 0 nor 1")
        return cls(seq, credit, unit, tv, Decimal(price) / 10000, rev), tag

    def verifies(self, tag: bytes, key: bytes, meter_no: str) -> bool:
        return hmac.compare_digest(tag, mac(key, meter_no.encode() + self.body()))


PURCHASE_SIZE = _PURCHASE.size + MAC_LEN


def encode_readback(values: dict[str, Any], key: bytes) -> bytes:
    """A readback record of ``values`` (named as the centre's ReadbackData), MAC'd."""
    unit = MONEY if values["credit_unit"] == UNITS[MONEY] else ENERGY
    flags = (1 if values["relay_open"] else 0) | (2 if values["alarm_active"] else 0)
    body = _READBACK.pack(
        RB_MAGIC, values["meter_no"].encode().ljust(12, b"\0"), values["energy_wh"],
        values["remaining"], values["overdraft"], values["purchase_count"],
        values["last_sequence"], values["cumulative_purchase"], unit, flags,
        values["alarm_count"], values["cutoff_count"], values["tamper_count"],
        values["power_down_count"], int(values["timestamp"].timestamp()),
        values["tariff_version"])
    return body + mac(key, body)


def decode_readback(raw: bytes) -> dict[str, Any]:
    if len(raw) != RB_SIZE or raw[:4] != RB_MAGIC:
        raise CardError(f"not a toy readback record ({len(raw)} bytes, magic {raw[:4]!r})")
    (_, meter, energy, remaining, overdraft, count, last, cumulative, unit, flags, alarms,
     cutoffs, tampers, downs, ts, tariff) = _READBACK.unpack(raw[:_READBACK.size])
    if unit not in UNITS:
        raise CardError(f"toy readback: credit unit {unit} is neither 0 nor 1")
    return {"meter_no": meter.rstrip(b"\0").decode(), "energy_wh": energy,
            "remaining": remaining, "overdraft": overdraft, "purchase_count": count,
            "last_sequence": last, "cumulative_purchase": cumulative, "credit_unit": UNITS[unit],
            "relay_open": bool(flags & 1), "alarm_active": bool(flags & 2),
            "alarm_count": alarms, "cutoff_count": cutoffs, "tamper_count": tampers,
            "power_down_count": downs, "timestamp": datetime.fromtimestamp(ts, UTC),
            "tariff_version": tariff}


def readback_mac_key(readback_master: Any, meter_no: str, key_revision: int) -> bytes:
    """The key a toy meter MACs its readback with: the one the centre's readback key service
    derives (rig's readback hierarchy), so the centre verifies toy readbacks unchanged."""
    return derive_readback_mac_key(derive_meter_readback_key(readback_master, meter_no),
                                   key_revision)


class ToyReadbackFormat:
    """The centre's view of a toy readback (the ``rig.readback_formats`` entry ``toy-v1``)."""

    name = "toy-v1"
    record_size = RB_SIZE

    def accepts(self, raw: bytes) -> bool:
        return len(raw) == RB_SIZE and raw[:4] == RB_MAGIC

    def fields(self, raw: bytes) -> dict[str, Any]:
        return decode_readback(raw)

    def mac_verifies(self, raw: bytes, mac_key: bytes) -> bool:
        return hmac.compare_digest(raw[-MAC_LEN:], mac(mac_key, raw[:-MAC_LEN]))

    def mac_key(self, master: Any, meter_no: str, key_revision: int) -> bytes:
        return readback_mac_key(master, meter_no, key_revision)

    def load_master(self, path: Any) -> Any:
        return RIG_V1.load_master(path)

    def default_master(self) -> Any:
        return RIG_V1.default_master()

    def is_public_test_key(self, master: Any) -> bool:
        return RIG_V1.is_public_test_key(master)


TOY_READBACK = ToyReadbackFormat()
