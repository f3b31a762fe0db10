"""DL/T 645 security commands (control code 03): the State Grid extension for ESAM meters.

Remote prepayment runs over these commands: the office authenticates to the meter's ESAM
(identity authentication), then opens the account, recharges, initialises the wallet, updates
keys or reads data back with a MAC, each by its data identifier, inside that session. The data
identifiers and field layouts are those of the State Grid remote-prepayment meters (the
Q/GDW 1365-style extension of DL/T 645-2007), as public meter firmware headers list them;
docs/protocols.md cites them.

A request's data is ``DI (4) | operator code (4) | body``; a normal reply (83H) is
``DI (4) | body``; an abnormal reply (C3H) carries the 2-byte security error word **SERR**.
Every field goes on the wire low byte first, as DL/T 645 sends every data item (so an 8-byte
random or cryptogram is reversed, a count is a little-endian integer). This module only packs
and unpacks: which key a MAC is under and what the meter does are :mod:`rig.sim.meter_security`'s
and :mod:`rig.station.remote_vend`'s. The ``mac_input`` of each request is the byte string its
MACs cover (fields most significant byte first, as the ESAM computes them).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar, Self

from rig.errors import ProtocolError

CONTROL_SECURITY = 0x03

DI_IDENTITY = 0x070000FF  # identity authentication: cipher 1, random 1, factor -> random 2, ESAM no
DI_IDENTITY_VALIDITY = 0x070001FF  # identity-authentication validity time (minutes) + MAC
DI_IDENTITY_END = 0x070002FF  # authentication invalidation -> customer, remaining, count, keys
DI_OPEN_ACCOUNT = 0x070101FF  # remote open account: amount, count, MAC1, customer no, MAC2
DI_RECHARGE = 0x070102FF  # remote recharge: same layout as open account
DI_WALLET_INIT = 0x070103FF  # wallet initialisation: preset, MAC1, count, MAC2
DI_WRITE_PLAIN = 0x070004FF  # write an ESAM file in plain text with MAC: file, offset, data
DI_KEY_UPDATE = 0x070301FF  # key update: up to 4 × (key 32 + key info 4), MAC
DI_READBACK = 0x078001FF  # data read-back with MAC: length, offset, file, directory

SECURITY_DIS = {
    DI_IDENTITY: "identity authentication",
    DI_IDENTITY_VALIDITY: "identity authentication validity time",
    DI_IDENTITY_END: "authentication invalidation",
    DI_OPEN_ACCOUNT: "open account",
    DI_RECHARGE: "recharge",
    DI_WALLET_INIT: "wallet initialisation",
    DI_WRITE_PLAIN: "plain-text write with MAC",
    DI_KEY_UPDATE: "key update",
    DI_READBACK: "data read-back with MAC",
}

# The security error word SERR of an abnormal reply (C3H), bit by bit.
SERR_OTHER = 0x0001
SERR_REPEATED_RECHARGE = 0x0002
SERR_ESAM = 0x0004  # ESAM verification failed (a MAC, a key package, the key state)
SERR_IDENTITY = 0x0008  # identity authentication failed (or none valid)
SERR_CUSTOMER = 0x0010  # customer number mismatch
SERR_RECHARGE_COUNT = 0x0020  # recharge (purchase) count error
SERR_HOARDING = 0x0040  # purchase exceeds the hoarding limit
SERR_ADDRESS = 0x0080  # address abnormal
SERR_SUSPENDED = 0x0100  # meter suspended

SERR_REASONS: dict[int, str] = {
    SERR_OTHER: "other error",
    SERR_REPEATED_RECHARGE: "repeated recharge",
    SERR_ESAM: "ESAM verification failed",
    SERR_IDENTITY: "identity authentication failed",
    SERR_CUSTOMER: "customer number mismatch",
    SERR_RECHARGE_COUNT: "recharge count error",
    SERR_HOARDING: "purchase exceeds the hoarding limit",
    SERR_ADDRESS: "address abnormal",
    SERR_SUSPENDED: "meter suspended",
}

MAC_LEN = 4
KEY_FIELD_LEN = 32  # a key-update record's key (rig: one sealed key package)
MAX_KEY_RECORDS = 4
DIRECTORY_APPLICATION = 0xDF01  # the ESAM application directory a read-back names
FILE_PURSE = 0x0001  # remaining, purchase count, customer number
FILE_PRICE = 0x05  # the current price file (rig: tariff version, price in 0.0001 units)
FILE_RUNNING = 0x0007  # the meter's running information (rig: its readback record)
PRICE_SCALE = 10_000


def decode_serr(word: int) -> list[str]:
    """Human-readable reasons for each bit set in a security error word."""
    reasons = [text for bit, text in SERR_REASONS.items() if word & bit]
    unknown = word & ~sum(SERR_REASONS)
    if unknown:
        reasons.append(f"reserved bits {unknown:04X}")
    return reasons or ["no error bit set"]


class SecurityError(Exception):
    """What the meter's side raises to answer with an abnormal reply: the SERR bits."""

    def __init__(self, serr: int, detail: str = "") -> None:
        super().__init__(f"{', '.join(decode_serr(serr))}" + (f" ({detail})" if detail else ""))
        self.serr = serr


def _wire(field: bytes) -> bytes:
    return field[::-1]


def _take(body: bytes, sizes: tuple[int, ...], what: str) -> list[bytes]:
    """Split ``body`` into fields of ``sizes`` (wire order), each turned most significant
    byte first; a wrong length is a ProtocolError naming the command."""
    if len(body) != sum(sizes):
        raise ProtocolError(f"{what}: {len(body)} data bytes, expected {sum(sizes)}")
    out, at = [], 0
    for n in sizes:
        out.append(body[at:at + n][::-1])
        at += n
    return out


def _fixed(name: str, value: bytes, size: int) -> bytes:
    if len(value) != size:
        raise ValueError(f"{name} is {size} bytes, got {len(value)}")
    return bytes(value)


def _u32(name: str, value: int) -> bytes:
    if not 0 <= value <= 0xFFFFFFFF:
        raise ValueError(f"{name} {value} does not fit 4 bytes")
    return value.to_bytes(4, "big")


def customer_bytes(customer_no: str) -> bytes:
    """A 12-digit customer number as its 6 BCD bytes (most significant first)."""
    if len(customer_no) != 12 or not customer_no.isdigit():
        raise ValueError(f"customer number {customer_no!r}: 12 decimal digits")
    return bytes.fromhex(customer_no)


def customer_text(raw: bytes) -> str:
    text = raw.hex()
    if not text.isdigit():
        raise ProtocolError(f"customer number {raw.hex().upper()} is not BCD")
    return text


def _bcd2(minutes: int) -> bytes:
    if not 0 <= minutes <= 9999:
        raise ValueError(f"validity {minutes} minutes: 0 to 9999")
    return bytes.fromhex(f"{minutes:04d}")


class _ByteFields:
    """A record of fixed-size byte strings (randoms, cryptograms, serials), each field sent
    low byte first: ``SIZES`` in field order, ``WHAT`` names it in errors."""

    SIZES: ClassVar[tuple[int, ...]]
    WHAT: ClassVar[str]

    def encode(self) -> bytes:
        return b"".join(_wire(_fixed(f.name.replace("_", " "), getattr(self, f.name), n))
                        for f, n in zip(fields(self), self.SIZES, strict=True))  # type: ignore[arg-type]

    @classmethod
    def decode(cls, body: bytes) -> Self:
        return cls(*_take(body, cls.SIZES, cls.WHAT))


@dataclass(frozen=True)
class IdentityRequest(_ByteFields):
    """070000FF: the office's cryptogram on random 1, random 1, the meter's dispersion factor."""

    cipher1: bytes
    rand1: bytes
    factor: bytes
    SIZES: ClassVar[tuple[int, ...]] = (8, 8, 8)
    WHAT: ClassVar[str] = "identity authentication"


@dataclass(frozen=True)
class IdentityReply(_ByteFields):
    """The meter's answer: random 2 (the session's MAC vector) and the ESAM serial."""

    rand2: bytes
    esam_serial: bytes
    SIZES: ClassVar[tuple[int, ...]] = (4, 8)
    WHAT: ClassVar[str] = "identity authentication reply"


@dataclass(frozen=True)
class ValidityRequest:
    """070001FF: how long an identity authentication stays valid (BCD minutes), with MAC."""

    minutes: int
    mac: bytes
    SIZES: ClassVar[tuple[int, ...]] = (2, 4)

    @property
    def mac_input(self) -> bytes:
        return _bcd2(self.minutes)

    def encode(self) -> bytes:
        return _wire(self.mac_input) + _wire(_fixed("MAC", self.mac, MAC_LEN))

    @classmethod
    def decode(cls, body: bytes) -> ValidityRequest:
        raw, mac = _take(body, cls.SIZES, "identity validity time")
        if not raw.hex().isdigit():
            raise ProtocolError(f"identity validity time {raw.hex().upper()} is not BCD")
        return cls(int(raw.hex()), mac)


@dataclass(frozen=True)
class InvalidationReply:
    """070002FF's answer: the ESAM's customer number, remaining amount, purchase count (both in
    credit units, binary) and key state information (0: all public, 1: all private)."""

    customer_no: str
    remaining: int
    purchase_count: int
    key_info: int
    SIZES: ClassVar[tuple[int, ...]] = (6, 4, 4, 4)

    def encode(self) -> bytes:
        return (_wire(customer_bytes(self.customer_no)) + _wire(_u32("remaining", self.remaining))
                + _wire(_u32("purchase count", self.purchase_count))
                + _wire(_u32("key information", self.key_info)))

    @classmethod
    def decode(cls, body: bytes) -> InvalidationReply:
        c, r, n, k = _take(body, cls.SIZES, "authentication invalidation reply")
        return cls(customer_text(c), int.from_bytes(r, "big"), int.from_bytes(n, "big"),
                   int.from_bytes(k, "big"))


@dataclass(frozen=True)
class PurchaseRequest:
    """070101FF open account / 070102FF recharge: amount and purchase count under MAC 1, the
    customer number under MAC 2 (both MACs by the office's key service in the session)."""

    amount: int
    purchase_count: int
    mac1: bytes
    customer_no: str
    mac2: bytes
    SIZES: ClassVar[tuple[int, ...]] = (4, 4, 4, 6, 4)

    @property
    def mac1_input(self) -> bytes:
        return _u32("amount", self.amount) + _u32("purchase count", self.purchase_count)

    @property
    def mac2_input(self) -> bytes:
        return customer_bytes(self.customer_no)

    def encode(self) -> bytes:
        return (_wire(_u32("amount", self.amount))
                + _wire(_u32("purchase count", self.purchase_count))
                + _wire(_fixed("MAC 1", self.mac1, MAC_LEN))
                + _wire(customer_bytes(self.customer_no))
                + _wire(_fixed("MAC 2", self.mac2, MAC_LEN)))

    @classmethod
    def decode(cls, body: bytes) -> PurchaseRequest:
        a, n, m1, c, m2 = _take(body, cls.SIZES, "open account / recharge")
        return cls(int.from_bytes(a, "big"), int.from_bytes(n, "big"), m1, customer_text(c), m2)


@dataclass(frozen=True)
class WalletInitRequest:
    """070103FF: the preset amount under MAC 1 and the purchase count (0) under MAC 2."""

    preset: int
    mac1: bytes
    purchase_count: int
    mac2: bytes
    SIZES: ClassVar[tuple[int, ...]] = (4, 4, 4, 4)

    @property
    def mac1_input(self) -> bytes:
        return _u32("preset", self.preset)

    @property
    def mac2_input(self) -> bytes:
        return _u32("purchase count", self.purchase_count)

    def encode(self) -> bytes:
        return (_wire(self.mac1_input) + _wire(_fixed("MAC 1", self.mac1, MAC_LEN))
                + _wire(self.mac2_input) + _wire(_fixed("MAC 2", self.mac2, MAC_LEN)))

    @classmethod
    def decode(cls, body: bytes) -> WalletInitRequest:
        p, m1, n, m2 = _take(body, cls.SIZES, "wallet initialisation")
        return cls(int.from_bytes(p, "big"), m1, int.from_bytes(n, "big"), m2)


@dataclass(frozen=True)
class PlainWriteRequest:
    """070004FF: data written into an ESAM file (file number, offset) under a MAC."""

    file_no: int
    offset: int
    data: bytes
    mac: bytes

    @property
    def mac_input(self) -> bytes:
        return bytes([self.file_no]) + self.offset.to_bytes(2, "big") + self.data

    def encode(self) -> bytes:
        return (bytes([self.file_no]) + _wire(self.offset.to_bytes(2, "big"))
                + _wire(self.data) + _wire(_fixed("MAC", self.mac, MAC_LEN)))

    @classmethod
    def decode(cls, body: bytes) -> PlainWriteRequest:
        if len(body) < 3 + MAC_LEN:
            raise ProtocolError(f"plain-text write: {len(body)} data bytes, too short")
        return cls(body[0], int.from_bytes(body[1:3], "little"), body[3:-MAC_LEN][::-1],
                   body[-MAC_LEN:][::-1])


def price_file(tariff_version: int, price_units: int) -> bytes:
    """The price file's content: tariff version, price per kWh in 0.0001 units."""
    return _u32("tariff version", tariff_version) + _u32("price", price_units)


@dataclass(frozen=True)
class KeyRecord:
    """One key of a key update: the key field (rig: a key package sealed under the meter's
    current master-control key) and its 4-byte key information: state (0 public, 1 private),
    key number, a reserved byte, the total number of keys being updated."""

    key: bytes
    state: int
    key_no: int
    total: int

    def info(self) -> bytes:
        return bytes([self.state, self.key_no, 0, self.total])

    @property
    def plain(self) -> bytes:
        return _fixed("key", self.key, KEY_FIELD_LEN) + self.info()


@dataclass(frozen=True)
class KeyUpdateRequest:
    """070301FF: one to four key records and one MAC over all of them."""

    records: tuple[KeyRecord, ...]
    mac: bytes

    @property
    def mac_input(self) -> bytes:
        return b"".join(r.plain for r in self.records)

    def encode(self) -> bytes:
        if not 1 <= len(self.records) <= MAX_KEY_RECORDS:
            raise ValueError(f"a key update carries 1 to {MAX_KEY_RECORDS} keys")
        return (b"".join(_wire(r.plain) for r in self.records)
                + _wire(_fixed("MAC", self.mac, MAC_LEN)))

    @classmethod
    def decode(cls, body: bytes) -> KeyUpdateRequest:
        size = KEY_FIELD_LEN + 4
        n, rest = divmod(len(body) - MAC_LEN, size)
        if rest or not 1 <= n <= MAX_KEY_RECORDS:
            raise ProtocolError(f"key update: {len(body)} data bytes is not 1 to "
                                f"{MAX_KEY_RECORDS} key records of {size} and a MAC")
        fields = _take(body, (size,) * n + (MAC_LEN,), "key update")
        records = tuple(KeyRecord(f[:KEY_FIELD_LEN], f[32], f[33], f[35]) for f in fields[:-1])
        return cls(records, fields[-1])


@dataclass(frozen=True)
class ReadbackTarget:
    """What a read-back names: length (0: the whole file), offset, file and directory."""

    length: int
    offset: int
    file_no: int
    directory: int = DIRECTORY_APPLICATION

    @property
    def plain(self) -> bytes:
        return b"".join(v.to_bytes(2, "big") for v in
                        (self.length, self.offset, self.file_no, self.directory))

    def encode(self) -> bytes:
        return b"".join(_wire(v.to_bytes(2, "big")) for v in
                        (self.length, self.offset, self.file_no, self.directory))

    @classmethod
    def decode(cls, body: bytes) -> ReadbackTarget:
        parts = _take(body, (2, 2, 2, 2), "data read-back")
        length, offset, file_no, directory = (int.from_bytes(p, "big") for p in parts)
        return cls(length, offset, file_no, directory)


@dataclass(frozen=True)
class ReadbackReply:
    """078001FF's answer: the target echoed, the data, and the ESAM's MAC over both."""

    target: ReadbackTarget
    data: bytes
    mac: bytes

    @property
    def mac_input(self) -> bytes:
        return self.target.plain + self.data

    def encode(self) -> bytes:
        return self.target.encode() + _wire(self.data) + _wire(_fixed("MAC", self.mac, MAC_LEN))

    @classmethod
    def decode(cls, body: bytes) -> ReadbackReply:
        if len(body) < 8 + MAC_LEN:
            raise ProtocolError(f"data read-back reply: {len(body)} data bytes, too short")
        target = ReadbackTarget.decode(body[:8])
        return cls(target, body[8:-MAC_LEN][::-1], body[-MAC_LEN:][::-1])


def request_data(di: int, operator: bytes, body: bytes) -> bytes:
    """The data field of a security request: DI, operator code, body."""
    if di not in SECURITY_DIS:
        raise ValueError(f"{di:08X} is not a security command rig knows")
    return di.to_bytes(4, "little") + _fixed("operator code", operator, 4) + body


def split_request(data: bytes) -> tuple[int, bytes, bytes]:
    """(DI, operator code, body) of a security request's data field."""
    if len(data) < 8:
        raise ProtocolError(f"security request needs a DI and an operator code, got "
                            f"{len(data)} bytes")
    return int.from_bytes(data[:4], "little"), data[4:8], data[8:]


def serr_bytes(serr: int) -> bytes:
    return serr.to_bytes(2, "little")


def serr_from(data: bytes) -> int:
    return int.from_bytes(data[:2], "little")
