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
    SW_BLOCKED,
    SW_INS,
    SW_OK,
    SW_WRONG_LENGTH,
    FrontEndBase,
    MemoryCardClient,
    PscRefused,
    attempts_left,
    psc_apdu,
    read_apdu,
    sw_bytes,
    write_apdu,
)
from rig.errors import CardError

NAME = "omnikey"
INS_READ_BINARY = 0xB0
INS_UPDATE_BINARY = 0xD6
INS_VERIFY = 0x20
SW_VERIFY_FAILED = 0x63C0  # | attempts left (ISO 7816-4 "counter" form): rig's choice


def read_binary(address: int, length: int) -> bytes:
    return read_apdu(INS_READ_BINARY, address, length, f"{NAME}: READ BINARY")


def update_binary(address: int, data: bytes) -> bytes:
    return write_apdu(INS_UPDATE_BINARY, address, data, f"{NAME}: UPDATE BINARY")


def verify(psc: bytes) -> bytes:
    return psc_apdu(INS_VERIFY, 0, psc, NAME)


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
    write_ins = INS_UPDATE_BINARY

    def answer(self, ins: int, p1: int, p2: int, p3: int, body: bytes) -> bytes:
        if ins == INS_READ_BINARY:
            return self.answer_read(p2, p3, body)
        if ins == INS_UPDATE_BINARY:
            return self.answer_write(p2, p3, body)
        if ins == INS_VERIFY:
            if p3 != 3 or len(body) != 3:
                return sw_bytes(SW_WRONG_LENGTH)
            ec = self._verify(body)
            if ec == EC_FULL:
                return sw_bytes(SW_OK)
            left = attempts_left(ec)
            return sw_bytes(SW_VERIFY_FAILED | left if left else SW_BLOCKED)
        return sw_bytes(SW_INS)
