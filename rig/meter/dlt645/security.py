"""DL/T 645 security commands (control code 03): the State Grid extension for ESAM meters.

Remote prepayment runs over these commands: the office authenticates to the meter's ESAM
(identity authentication), then opens the account, recharges, initialises the wallet, updates
keys or reads data back with a MAC, each by its data identifier, inside that session. The
field layouts are those of the State Grid remote-prepayment meters (the Q/GDW 1365-style
extension of DL/T 645-2007), as public meter firmware headers list them; docs/protocols.md
cites them. This module holds the session and purchase commands; the identifiers are
:mod:`.security_ids`, the error word :mod:`.security_serr`, the file and key commands
:mod:`.security_files`, the status query and enciphered relay control
:mod:`.security_control`; their names stay reachable here as ``security.NAME``.

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
from rig.meter.dlt645.security_codec import (
    bcd2,
    customer_bytes,
    customer_text,
    fixed,
    take,
    u32,
    wire,
)
from rig.meter.dlt645.security_control import (
    PASSWORD_LEVEL_CIPHER,
    ControlCommand,
    EncipheredControl,
    StatusReply,
    enciphered_password,
)
from rig.meter.dlt645.security_files import (
    KeyRecord,
    KeyUpdateRequest,
    PlainWriteRequest,
    ReadbackReply,
    ReadbackTarget,
    price_file,
)
from rig.meter.dlt645.security_ids import (
    CONTROL_SECURITY,
    DI_IDENTITY,
    DI_IDENTITY_END,
    DI_IDENTITY_VALIDITY,
    DI_KEY_UPDATE,
    DI_OPEN_ACCOUNT,
    DI_READBACK,
    DI_RECHARGE,
    DI_STATUS,
    DI_WALLET_INIT,
    DI_WRITE_PLAIN,
    DIRECTORY_APPLICATION,
    FILE_PRICE,
    FILE_PURSE,
    FILE_RUNNING,
    KEY_FIELD_LEN,
    MAC_LEN,
    MAX_KEY_RECORDS,
    PRICE_SCALE,
    SECURITY_DIS,
)
from rig.meter.dlt645.security_serr import (
    SERR_ADDRESS,
    SERR_CUSTOMER,
    SERR_ESAM,
    SERR_HOARDING,
    SERR_IDENTITY,
    SERR_OTHER,
    SERR_REASONS,
    SERR_RECHARGE_COUNT,
    SERR_REPEATED_RECHARGE,
    SERR_SUSPENDED,
    SecurityError,
    decode_serr,
    serr_bytes,
    serr_from,
)

__all__ = [  # the names split out by job, still reachable as ``security.NAME``
    "CONTROL_SECURITY", "DIRECTORY_APPLICATION", "DI_IDENTITY", "DI_IDENTITY_END",
    "DI_IDENTITY_VALIDITY", "DI_KEY_UPDATE", "DI_OPEN_ACCOUNT", "DI_READBACK", "DI_RECHARGE",
    "DI_STATUS", "DI_WALLET_INIT", "DI_WRITE_PLAIN", "FILE_PRICE", "FILE_PURSE", "FILE_RUNNING",
    "KEY_FIELD_LEN", "MAC_LEN", "MAX_KEY_RECORDS", "PASSWORD_LEVEL_CIPHER", "PRICE_SCALE",
    "SECURITY_DIS", "SERR_ADDRESS", "SERR_CUSTOMER", "SERR_ESAM", "SERR_HOARDING",
    "SERR_IDENTITY", "SERR_OTHER", "SERR_REASONS", "SERR_RECHARGE_COUNT",
    "SERR_REPEATED_RECHARGE", "SERR_SUSPENDED", "ControlCommand", "EncipheredControl",
    "IdentityReply", "IdentityRequest", "InvalidationReply", "KeyRecord", "KeyUpdateRequest",
    "PlainWriteRequest", "PurchaseRequest", "ReadbackReply", "ReadbackTarget", "SecurityError",
    "StatusReply", "ValidityRequest", "WalletInitRequest", "customer_bytes", "customer_text",
    "decode_serr", "enciphered_password", "price_file", "request_data", "serr_bytes", "serr_from",
    "split_request"
]


class _ByteFields:
    """A record of fixed-size byte strings (randoms, cryptograms, serials), each field sent
    low byte first: ``SIZES`` in field order, ``WHAT`` names it in errors."""

    SIZES: ClassVar[tuple[int, ...]]
    WHAT: ClassVar[str]

    def encode(self) -> bytes:
        return b"".join(wire(fixed(f.name.replace("_", " "), getattr(self, f.name), n))
                        for f, n in zip(fields(self), self.SIZES, strict=True))  # type: ignore[arg-type]

    @classmethod
    def decode(cls, body: bytes) -> Self:
        return cls(*take(body, cls.SIZES, cls.WHAT))


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
        return bcd2(self.minutes)

    def encode(self) -> bytes:
        return wire(self.mac_input) + wire(fixed("MAC", self.mac, MAC_LEN))

    @classmethod
    def decode(cls, body: bytes) -> ValidityRequest:
        raw, mac = take(body, cls.SIZES, "identity validity time")
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
        return (wire(customer_bytes(self.customer_no)) + wire(u32("remaining", self.remaining))
                + wire(u32("purchase count", self.purchase_count))
                + wire(u32("key information", self.key_info)))

    @classmethod
    def decode(cls, body: bytes) -> InvalidationReply:
        c, r, n, k = take(body, cls.SIZES, "authentication invalidation reply")
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
        return u32("amount", self.amount) + u32("purchase count", self.purchase_count)

    @property
    def mac2_input(self) -> bytes:
        return customer_bytes(self.customer_no)

    def encode(self) -> bytes:
        return (wire(u32("amount", self.amount))
                + wire(u32("purchase count", self.purchase_count))
                + wire(fixed("MAC 1", self.mac1, MAC_LEN))
                + wire(customer_bytes(self.customer_no))
                + wire(fixed("MAC 2", self.mac2, MAC_LEN)))

    @classmethod
    def decode(cls, body: bytes) -> PurchaseRequest:
        a, n, m1, c, m2 = take(body, cls.SIZES, "open account / recharge")
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
        return u32("preset", self.preset)

    @property
    def mac2_input(self) -> bytes:
        return u32("purchase count", self.purchase_count)

    def encode(self) -> bytes:
        return (wire(self.mac1_input) + wire(fixed("MAC 1", self.mac1, MAC_LEN))
                + wire(self.mac2_input) + wire(fixed("MAC 2", self.mac2, MAC_LEN)))

    @classmethod
    def decode(cls, body: bytes) -> WalletInitRequest:
        p, m1, n, m2 = take(body, cls.SIZES, "wallet initialisation")
        return cls(int.from_bytes(p, "big"), m1, int.from_bytes(n, "big"), m2)


def request_data(di: int, operator: bytes, body: bytes) -> bytes:
    """The data field of a security request: DI, operator code, body."""
    if di not in SECURITY_DIS:
        raise ValueError(f"{di:08X} is not a security command rig knows")
    return di.to_bytes(4, "little") + fixed("operator code", operator, 4) + body


def split_request(data: bytes) -> tuple[int, bytes, bytes]:
    """(DI, operator code, body) of a security request's data field."""
    if len(data) < 8:
        raise ProtocolError(f"security request needs a DI and an operator code, got "
                            f"{len(data)} bytes")
    return int.from_bytes(data[:4], "little"), data[4:8], data[8:]
