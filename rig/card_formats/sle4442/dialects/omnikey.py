"""HID OMNIKEY contact readers (3x21 family): SLE 4442 through PC/SC storage-card commands.

Read ``FF B0``, write ``FF D6`` and verify ``FF 20``; the reader detects the card type itself
(no select). OMNIKEY readers have no pseudo-APDU to change the PSC, read the error counter or
the protection memory (an OMNIKEY 3121 answers ``FF D2`` with 6D 00): those operations raise a
CardError naming the dialect. docs/card-formats/sle4442.md cites the sources and marks the
bytes that are rig's choice (the status words of a failed or blocked verification).
"""

from __future__ import annotations

from rig.card_formats.sle4442.chip import EC_FULL
from rig.card_formats.sle4442.dialects.base import (
    CLA,
    SW_BLOCKED,
    SW_CLA,
    SW_INS,
    SW_OK,
    SW_WRONG_LENGTH,
    SW_WRONG_P1P2,
    FrontEndBase,
    MemoryCardClient,
    PscRefused,
    attempts_left,
    check_span,
    sw_bytes,
)
from rig.errors import CardError

NAME = "omnikey"
INS_READ_BINARY = 0xB0
INS_UPDATE_BINARY = 0xD6
INS_VERIFY = 0x20
SW_VERIFY_FAILED = 0x63C0  # | attempts left (ISO 7816-4 "counter" form): rig's choice


def read_binary(address: int, length: int) -> bytes:
    check_span(address, length, f"{NAME}: READ BINARY")
    return bytes([CLA, INS_READ_BINARY, 0, address, length & 0xFF])


def update_binary(address: int, data: bytes) -> bytes:
    check_span(address, len(data), f"{NAME}: UPDATE BINARY")
    if len(data) > 0xFF:
        raise CardError(f"{NAME}: UPDATE BINARY: at most 255 bytes a command")
    return bytes([CLA, INS_UPDATE_BINARY, 0, address, len(data)]) + data


def verify(psc: bytes) -> bytes:
    if len(psc) != 3:
        raise CardError(f"{NAME}: a PSC is 3 bytes, got {len(psc)}")
    return bytes([CLA, INS_VERIFY, 0, 0, 3]) + bytes(psc)


class OmnikeyClient(MemoryCardClient):
    """The vending station's OMNIKEY reader."""

    name = NAME

    def read(self, address: int, length: int) -> bytes:
        data = self._ok(read_binary(address, length), f"READ BINARY {length} bytes at {address}")
        if len(data) != length:
            raise CardError(f"{NAME}: READ BINARY: {len(data)} bytes for {length} asked")
        return data

    def write(self, address: int, data: bytes) -> None:
        self._ok(update_binary(address, data), f"UPDATE BINARY {len(data)} bytes at {address}")

    def present_psc(self, psc: bytes) -> None:
        apdu = verify(psc)
        data, sw = self._send(apdu, "VERIFY")
        if sw == SW_OK and not data:
            return
        if sw & 0xFFF0 == SW_VERIFY_FAILED:
            raise PscRefused(NAME, sw & 0x0F)
        if sw == SW_BLOCKED:
            raise PscRefused(NAME, 0)
        raise self._sw_error(apdu, "VERIFY", sw)


class OmnikeyFrontEnd(FrontEndBase):
    """A virtual OMNIKEY reader holding a virtual SLE 4442."""

    name = NAME

    def process(self, apdu: bytes) -> bytes:
        if len(apdu) < 5:
            return sw_bytes(SW_WRONG_LENGTH)
        cla, ins, _p1, p2, p3 = apdu[:5]
        body = apdu[5:]
        if cla != CLA:
            return sw_bytes(SW_CLA)
        if ins == INS_READ_BINARY:
            length = p3 or 256
            if body:
                return sw_bytes(SW_WRONG_LENGTH)
            if p2 + length > 256:
                return sw_bytes(SW_WRONG_P1P2)
            return self._read(p2, length) + sw_bytes(SW_OK)
        if ins == INS_UPDATE_BINARY:
            if p3 != len(body) or not body:
                return sw_bytes(SW_WRONG_LENGTH)
            if p2 + len(body) > 256:
                return sw_bytes(SW_WRONG_P1P2)
            self._write_bytes(p2, body)
            return sw_bytes(SW_OK)
        if ins == INS_VERIFY:
            if p3 != 3 or len(body) != 3:
                return sw_bytes(SW_WRONG_LENGTH)
            ec = self._verify(body)
            if ec == EC_FULL:
                return sw_bytes(SW_OK)
            left = attempts_left(ec)
            return sw_bytes(SW_VERIFY_FAILED | left if left else SW_BLOCKED)
        return sw_bytes(SW_INS)
