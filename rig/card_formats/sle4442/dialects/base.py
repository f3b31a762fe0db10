"""What every reader dialect provides, and the status words rig's virtual readers answer.

A memory card has no APDU interface of its own: the PC/SC reader turns vendor "pseudo-APDUs"
(class FF) into the chip's native commands. Each dialect has two halves: the station's
:class:`MemoryCardClient` (encode an operation, decode its answer, CardError naming the
dialect for an operation it lacks or a status word it answers) and the virtual reader's
:class:`ReaderFrontEnd` (answer exactly that dialect's pseudo-APDUs from the chip model).
"""

from __future__ import annotations

from typing import Protocol

from rig.card.apdu import CardRemovedError, StatusWordError, sw_meaning
from rig.card.session import ApduTransport
from rig.card_formats.sle4442.chip import READ_MAIN, UPDATE_MAIN, SLE4442Chip, verify_psc
from rig.errors import CardError

CLA = 0xFF
SW_OK = 0x9000
# Status words of failures the vendor manuals leave open: rig's choice, with ISO 7816-4
# meanings (docs/card-formats/sle4442.md, "Status words").
SW_WRONG_LENGTH = 0x6700
SW_CONDITIONS = 0x6985  # e.g. ACS: no SELECT_CARD_TYPE since power-on
SW_BLOCKED = 0x6983  # the PSC is locked
SW_FUNCTION = 0x6A81  # card type not supported
SW_WRONG_P1P2 = 0x6B00  # address outside the memory
SW_INS = 0x6D00  # the dialect has no such command
SW_CLA = 0x6E00


def sw_bytes(sw: int) -> bytes:
    return sw.to_bytes(2, "big")


class PscRefused(CardError):
    """The card refused the PSC: ``attempts_left`` more tries (0 = locked for good)."""

    def __init__(self, dialect: str, attempts_left: int) -> None:
        self.attempts_left = attempts_left
        what = ("the card is locked (three wrong PSCs): it can never be written again"
                if attempts_left == 0 else f"wrong PSC, {attempts_left} attempt(s) left "
                "before the card locks for good")
        super().__init__(f"{dialect}: PRESENT PSC: {what}")


def attempts_left(error_counter: int) -> int:
    """The error counter's set bits: each one a further attempt."""
    return bin(error_counter & 0b111).count("1")


class MemoryCardClient:
    """The station's side of one dialect over one transport. Subclasses implement the
    operations they have; the others raise a CardError naming the dialect."""

    name = "?"

    def __init__(self, transport: ApduTransport) -> None:
        self.transport = transport

    def _send(self, apdu: bytes, what: str) -> tuple[bytes, int]:
        response = self.transport.transmit(apdu)
        if len(response) < 2:
            raise CardError(f"{self.name}: {what}: reader answered {len(response)} bytes, "
                            "no status word")
        return bytes(response[:-2]), (response[-2] << 8) | response[-1]

    def _ok(self, apdu: bytes, what: str) -> bytes:
        data, sw = self._send(apdu, what)
        if sw != SW_OK:
            raise self._sw_error(apdu, what, sw)
        return data

    def _sw_error(self, apdu: bytes, what: str, sw: int) -> CardError:
        err = StatusWordError(f"{self.name}: {what}", sw >> 8, sw & 0xFF, apdu[:5])
        if sw == SW_INS:
            return CardError(f"{self.name}: {what}: the reader does not have this command "
                             f"(SW {sw:04X} {sw_meaning(sw)})")
        return err

    @classmethod
    def has(cls, what: str) -> bool:
        """Does this dialect have the operation ``what`` ("CHANGE PSC", "WRITE PROTECTION",
        ...: the names its errors use)?"""
        method = what.lower().replace(" ", "_")
        return getattr(cls, method) is not getattr(MemoryCardClient, method)

    def lacks(self, what: str) -> CardError:
        return CardError(f"{self.name}: {what}: the {self.name} dialect has no such command "
                         "(docs/card-formats/sle4442.md, 'Reader dialects')")

    # the operations ---------------------------------------------------------------------
    def select(self) -> None:
        """Tell the reader the card is an SLE 4442 (a no-op where the reader detects it)."""

    def read(self, address: int, length: int) -> bytes:
        raise self.lacks("READ")

    def write(self, address: int, data: bytes) -> None:
        raise self.lacks("WRITE")

    def present_psc(self, psc: bytes) -> None:
        """Verify the PSC (unlocks writing until power-off); PscRefused if wrong."""
        raise self.lacks("PRESENT PSC")

    def change_psc(self, psc: bytes) -> None:
        raise self.lacks("CHANGE PSC")

    def read_attempts_left(self) -> int:
        raise self.lacks("READ ERROR COUNTER")

    def read_protection(self) -> int:
        """The 32 protection bits, bit i = 1: byte i may still be written."""
        raise self.lacks("READ PROTECTION BITS")

    def write_protection(self, address: int, data: bytes) -> None:
        raise self.lacks("WRITE PROTECTION")


def check_span(address: int, length: int, what: str) -> None:
    if not 0 <= address <= 0xFF or not 1 <= length <= 0x100 - address:
        raise CardError(f"{what}: {length} bytes at address {address} are outside the "
                        "256-byte main memory")


def read_apdu(ins: int, address: int, length: int, what: str) -> bytes:
    """``FF <ins> 00 <address> <length>`` (a length of 256 is sent as 00)."""
    check_span(address, length, what)
    return bytes([CLA, ins, 0, address, length & 0xFF])


def write_apdu(ins: int, address: int, data: bytes, what: str) -> bytes:
    """``FF <ins> 00 <address> <len> <data>``."""
    check_span(address, len(data), what)
    if len(data) > 0xFF:
        raise CardError(f"{what}: at most 255 bytes a command")
    return bytes([CLA, ins, 0, address, len(data)]) + data


def psc_apdu(ins: int, p2: int, psc: bytes, dialect: str) -> bytes:
    """``FF <ins> 00 <p2> 03 <PSC>``."""
    if len(psc) != 3:
        raise CardError(f"{dialect}: a PSC is 3 bytes, got {len(psc)}")
    return bytes([CLA, ins, 0, p2, 3]) + bytes(psc)


class ReaderFrontEnd(Protocol):
    """A virtual reader of one dialect in front of the chip."""

    name: str
    chip: SLE4442Chip
    tear_after: int | None
    write_ins: int  # the INS of the dialect's main-memory write

    def power_on(self) -> None: ...

    def process(self, apdu: bytes) -> bytes: ...


class FrontEndBase:
    """Shared parts of the virtual readers: header checks and the chip operations every
    dialect maps onto native commands."""

    name = "?"
    write_ins = -1

    def __init__(self, chip: SLE4442Chip) -> None:
        self.chip = chip
        self.tear_after: int | None = None  # bytes still written before the card is pulled

    def power_on(self) -> None:
        self.chip.power_on()

    def process(self, apdu: bytes) -> bytes:
        """Check the class and length, then the dialect's ``answer``."""
        if len(apdu) < 5:
            return sw_bytes(SW_WRONG_LENGTH)
        if apdu[0] != CLA:
            return sw_bytes(SW_CLA)
        return self.answer(apdu[1], apdu[2], apdu[3], apdu[4], apdu[5:])

    def answer(self, ins: int, p1: int, p2: int, p3: int, body: bytes) -> bytes:
        raise NotImplementedError

    def answer_read(self, address: int, p3: int, body: bytes) -> bytes:
        """A read pseudo-APDU: ``p3`` bytes (0 = 256) from ``address``."""
        length = p3 or 256
        if body:
            return sw_bytes(SW_WRONG_LENGTH)
        if address + length > 256:
            return sw_bytes(SW_WRONG_P1P2)
        return self._read(address, length) + sw_bytes(SW_OK)

    def answer_write(self, address: int, p3: int, body: bytes) -> bytes:
        """A write pseudo-APDU: ``body`` (``p3`` bytes) at ``address``, byte by byte."""
        if p3 != len(body) or not body:
            return sw_bytes(SW_WRONG_LENGTH)
        if address + len(body) > 256:
            return sw_bytes(SW_WRONG_P1P2)
        self._write_bytes(address, body)
        return sw_bytes(SW_OK)

    def _write_bytes(self, address: int, data: bytes) -> None:
        for i, byte in enumerate(data):
            if self.tear_after is not None:
                if self.tear_after == 0:
                    raise CardRemovedError(f"virtual SLE 4442 pulled after {i} of "
                                           f"{len(data)} bytes written at address {address}")
                self.tear_after -= 1
            self.chip.command(UPDATE_MAIN, address + i, byte)

    def _read(self, address: int, length: int) -> bytes:
        return self.chip.command(READ_MAIN, address)[:length]

    def _verify(self, psc: bytes) -> int:
        return verify_psc(self.chip.command, psc)
