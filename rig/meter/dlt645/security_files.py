"""The security commands on ESAM files and keys: plain-text write with MAC (070004FF), key
update (070301FF) and data read-back with MAC (078001FF), in the State Grid layouts cited in
docs/protocols.md (fields low byte first; ``mac_input`` most significant byte first)."""

from __future__ import annotations

from dataclasses import dataclass

from rig.errors import ProtocolError
from rig.meter.dlt645.security_codec import fixed, take, u32, wire
from rig.meter.dlt645.security_ids import (
    DIRECTORY_APPLICATION,
    KEY_FIELD_LEN,
    MAC_LEN,
    MAX_KEY_RECORDS,
)


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
        return (bytes([self.file_no]) + wire(self.offset.to_bytes(2, "big"))
                + wire(self.data) + wire(fixed("MAC", self.mac, MAC_LEN)))

    @classmethod
    def decode(cls, body: bytes) -> PlainWriteRequest:
        if len(body) < 3 + MAC_LEN:
            raise ProtocolError(f"plain-text write: {len(body)} data bytes, too short")
        return cls(body[0], int.from_bytes(body[1:3], "little"), body[3:-MAC_LEN][::-1],
                   body[-MAC_LEN:][::-1])


def price_file(tariff_version: int, price_units: int) -> bytes:
    """The price file's content: tariff version, price per kWh in 0.0001 units."""
    return u32("tariff version", tariff_version) + u32("price", price_units)


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
        return fixed("key", self.key, KEY_FIELD_LEN) + self.info()


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
        return (b"".join(wire(r.plain) for r in self.records)
                + wire(fixed("MAC", self.mac, MAC_LEN)))

    @classmethod
    def decode(cls, body: bytes) -> KeyUpdateRequest:
        size = KEY_FIELD_LEN + 4
        n, rest = divmod(len(body) - MAC_LEN, size)
        if rest or not 1 <= n <= MAX_KEY_RECORDS:
            raise ProtocolError(f"key update: {len(body)} data bytes is not 1 to "
                                f"{MAX_KEY_RECORDS} key records of {size} and a MAC")
        fields = take(body, (size,) * n + (MAC_LEN,), "key update")
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
        return b"".join(wire(v.to_bytes(2, "big")) for v in
                        (self.length, self.offset, self.file_no, self.directory))

    @classmethod
    def decode(cls, body: bytes) -> ReadbackTarget:
        parts = take(body, (2, 2, 2, 2), "data read-back")
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
        return self.target.encode() + wire(self.data) + wire(fixed("MAC", self.mac, MAC_LEN))

    @classmethod
    def decode(cls, body: bytes) -> ReadbackReply:
        if len(body) < 8 + MAC_LEN:
            raise ProtocolError(f"data read-back reply: {len(body)} data bytes, too short")
        target = ReadbackTarget.decode(body[:8])
        return cls(target, body[8:-MAC_LEN][::-1], body[-MAC_LEN:][::-1])
