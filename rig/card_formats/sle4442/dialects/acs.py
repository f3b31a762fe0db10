"""ACS ACR38/ACR39 family: SLE 4442 through the reader's memory-card pseudo-APDUs.

Byte tables: ACS "ACR3801 Reference Manual" v2.01, section 8.3.6 (SLE 4432/4442/5532/5542)
and "ACR38x Reference Manual" v6.02, section 9.2.2.6; docs/card-formats/sle4442.md lists them
with the status words rig's virtual reader answers where the manuals give none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rig.card_formats.sle4442.chip import (
    EC_FULL,
    READ_PROTECTION,
    READ_SECURITY,
    UPDATE_SECURITY,
    WRITE_PROTECTION,
)
from rig.card_formats.sle4442.dialects.base import (
    CLA,
    SW_CONDITIONS,
    SW_FUNCTION,
    SW_INS,
    SW_OK,
    SW_WRONG_LENGTH,
    SW_WRONG_P1P2,
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

NAME = "acs"
CARD_TYPE_SLE4442 = 0x06  # SELECT_CARD_TYPE's card type for SLE 4432/4442/5532/5542

INS_SELECT_CARD_TYPE = 0xA4
INS_READ = 0xB0
INS_READ_ERROR_COUNTER = 0xB1
INS_READ_PROTECTION = 0xB2
INS_WRITE = 0xD0
INS_WRITE_PROTECTION = 0xD1
INS_CHANGE_PSC = 0xD2
INS_PRESENT_PSC = 0x20


def select_card_type() -> bytes:
    return bytes([CLA, INS_SELECT_CARD_TYPE, 0, 0, 1, CARD_TYPE_SLE4442])


def read(address: int, length: int) -> bytes:
    return read_apdu(INS_READ, address, length, f"{NAME}: READ_MEMORY_CARD")


def write(address: int, data: bytes) -> bytes:
    return write_apdu(INS_WRITE, address, data, f"{NAME}: WRITE_MEMORY_CARD")


def write_protection(address: int, data: bytes) -> bytes:
    if not 0 <= address < 32 or not 1 <= len(data) <= 32 - address:
        raise CardError(f"{NAME}: WRITE_PROTECTION_MEMORY_CARD: only bytes 0..31 have "
                        f"protection bits ({len(data)} bytes at {address} asked)")
    return bytes([CLA, INS_WRITE_PROTECTION, 0, address, len(data)]) + data


def present_psc(psc: bytes) -> bytes:
    return psc_apdu(INS_PRESENT_PSC, 0, psc, NAME)


def change_psc(psc: bytes) -> bytes:
    return psc_apdu(INS_CHANGE_PSC, 1, psc, NAME)


def read_error_counter() -> bytes:
    return bytes([CLA, INS_READ_ERROR_COUNTER, 0, 0, 4])


def read_protection() -> bytes:
    return bytes([CLA, INS_READ_PROTECTION, 0, 0, 4])


class AcsClient(MemoryCardClient):
    """The vending station's ACS reader."""

    name = NAME

    def select(self) -> None:
        self._ok(select_card_type(), "SELECT_CARD_TYPE")

    def read(self, address: int, length: int) -> bytes:
        data = self._ok(read(address, length), f"READ_MEMORY_CARD {length} bytes at {address}")
        if len(data) in (length, length + 4):  # ACR38x firmware appends the 4 PROT bytes
            return data[:length]
        raise CardError(f"{NAME}: READ_MEMORY_CARD: {len(data)} data bytes for {length} asked")

    def write(self, address: int, data: bytes) -> None:
        self._ok(write(address, data), f"WRITE_MEMORY_CARD {len(data)} bytes at {address}")

    def present_psc(self, psc: bytes) -> None:
        apdu = present_psc(psc)
        data, sw = self._send(apdu, "PRESENT_CODE_MEMORY_CARD")
        if sw >> 8 != 0x90 or data:
            raise self._sw_error(apdu, "PRESENT_CODE_MEMORY_CARD", sw)
        if sw & 0xFF != EC_FULL:  # SW2 is the error counter: 07 = verified
            raise PscRefused(NAME, attempts_left(sw & 0xFF))

    def change_psc(self, psc: bytes) -> None:
        self._ok(change_psc(psc), "CHANGE_CODE_MEMORY_CARD")

    def read_attempts_left(self) -> int:
        data = self._ok(read_error_counter(), "READ_PRESENTATION_ERROR_COUNTER_MEMORY_CARD")
        if len(data) != 4:
            raise CardError(f"{NAME}: READ_PRESENTATION_ERROR_COUNTER: {len(data)} bytes, "
                            "expected ERRCNT and 3 dummy bytes")
        return attempts_left(data[0])

    def read_protection(self) -> int:
        data = self._ok(read_protection(), "READ_PROTECTION_BITS")
        if len(data) != 4:
            raise CardError(f"{NAME}: READ_PROTECTION_BITS: {len(data)} bytes, expected 4")
        return int.from_bytes(data, "little")

    def write_protection(self, address: int, data: bytes) -> None:
        self._ok(write_protection(address, data), "WRITE_PROTECTION_MEMORY_CARD")


class AcsFrontEnd(FrontEndBase):
    """A virtual ACS reader holding a virtual SLE 4442: answers the ACS pseudo-APDUs only.
    As the manuals require, SELECT_CARD_TYPE must come first after power-on."""

    name = NAME
    write_ins = INS_WRITE
    selected = False

    def power_on(self) -> None:
        super().power_on()
        self.selected = False

    def answer(self, ins: int, p1: int, p2: int, p3: int, body: bytes) -> bytes:
        handler = self._handlers.get(ins)
        if handler is None:
            return sw_bytes(SW_INS)
        if ins != INS_SELECT_CARD_TYPE and not self.selected:
            return sw_bytes(SW_CONDITIONS)
        return handler(self, p1, p2, p3, body)

    def _on_select(self, p1: int, p2: int, p3: int, body: bytes) -> bytes:
        if p3 != 1 or len(body) != 1:
            return sw_bytes(SW_WRONG_LENGTH)
        if body[0] != CARD_TYPE_SLE4442:
            return sw_bytes(SW_FUNCTION)
        self.power_on()  # the manual: select powers the card down and up
        self.selected = True
        return sw_bytes(SW_OK)

    def _on_read(self, p1: int, p2: int, p3: int, body: bytes) -> bytes:
        return self.answer_read(p2, p3, body)

    def _on_write(self, p1: int, p2: int, p3: int, body: bytes) -> bytes:
        return self.answer_write(p2, p3, body)

    def _on_write_protection(self, p1: int, p2: int, p3: int, body: bytes) -> bytes:
        if p3 != len(body) or not body:
            return sw_bytes(SW_WRONG_LENGTH)
        if p2 + len(body) > 32:
            return sw_bytes(SW_WRONG_P1P2)
        for i, byte in enumerate(body):
            self.chip.command(WRITE_PROTECTION, p2 + i, byte)
        return sw_bytes(SW_OK)

    def _on_present(self, p1: int, p2: int, p3: int, body: bytes) -> bytes:
        if p3 != 3 or len(body) != 3:
            return sw_bytes(SW_WRONG_LENGTH)
        return bytes([0x90, self._verify(body)])

    def _on_change(self, p1: int, p2: int, p3: int, body: bytes) -> bytes:
        if p3 != 3 or len(body) != 3:
            return sw_bytes(SW_WRONG_LENGTH)
        for i, byte in enumerate(body, start=1):  # ignored by the chip unless verified
            self.chip.command(UPDATE_SECURITY, i, byte)
        return sw_bytes(SW_OK)

    def _on_error_counter(self, p1: int, p2: int, p3: int, body: bytes) -> bytes:
        if body:
            return sw_bytes(SW_WRONG_LENGTH)
        ec = self.chip.command(READ_SECURITY, 0)[0]
        return bytes([ec, 0, 0, 0]) + sw_bytes(SW_OK)  # three dummy bytes

    def _on_protection(self, p1: int, p2: int, p3: int, body: bytes) -> bytes:
        if body:
            return sw_bytes(SW_WRONG_LENGTH)
        return self.chip.command(READ_PROTECTION, 0) + sw_bytes(SW_OK)

    _handlers: ClassVar[dict[int, Callable[..., bytes]]] = {
        INS_SELECT_CARD_TYPE: _on_select, INS_READ: _on_read, INS_WRITE: _on_write,
        INS_WRITE_PROTECTION: _on_write_protection, INS_PRESENT_PSC: _on_present,
        INS_CHANGE_PSC: _on_change, INS_READ_ERROR_COUNTER: _on_error_counter,
        INS_READ_PROTECTION: _on_protection,
    }
