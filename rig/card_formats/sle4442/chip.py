"""An SLE 4442 memory chip: what a prepaid meter's card slot and a card writer really talk to.

The chip has no processor and no cryptography: 256 bytes of EEPROM main memory, a 32-bit
protection memory (a cleared bit freezes one of bytes 0..31 for ever), and a 4-byte security
memory (a 3-bit error counter and the 3-byte programmable security code, PSC). Updates are
possible only after the PSC was verified in this power session; three failed verifications
lock the chip for good. Facts and command codes from the Infineon (Siemens) SLE 4432/4442 data
sheet (docs/card-formats/sle4442.md cites the sections); the model is rig's own.

The native interface is :meth:`SLE4442Chip.command`: one 3-byte command (control, address,
data), and what the chip then clocks out. State survives power cycles (``to_dict``); the
unlocked state does not (:meth:`power_on`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAIN_SIZE = 256
PROTECTABLE = 32  # bytes 0..31 have a protection bit
ATR_HEADER = bytes.fromhex("A2131091")  # the chip's answer to reset, in main memory 0..3
FACTORY_PSC = bytes.fromhex("FFFFFF")  # rig's blank cards (real ones: per customer agreement)
EC_FULL = 0b111  # three attempts left

# Control bytes (data sheet, "Commands" table).
READ_MAIN = 0x30
UPDATE_MAIN = 0x38
READ_PROTECTION = 0x34
WRITE_PROTECTION = 0x3C
READ_SECURITY = 0x31
UPDATE_SECURITY = 0x39
COMPARE_VERIFICATION = 0x33


class ChipCommandError(ValueError):
    """A command the chip does not have, or an address outside its memory."""


class SLE4442Chip:
    """The chip's memories and its security state machine."""

    def __init__(self, main: bytes | None = None, *, protection: int = 0xFFFFFFFF,
                 psc: bytes = FACTORY_PSC, error_counter: int = EC_FULL) -> None:
        if main is None:
            main = ATR_HEADER + b"\xff" * (MAIN_SIZE - len(ATR_HEADER))
        if len(main) != MAIN_SIZE:
            raise ValueError(f"main memory is {MAIN_SIZE} bytes, got {len(main)}")
        if len(psc) != 3:
            raise ValueError(f"PSC is 3 bytes, got {len(psc)}")
        self.main = bytearray(main)
        self.protection = protection & 0xFFFFFFFF  # bit i = 1: byte i may still be written
        self.psc = bytes(psc)
        self.error_counter = error_counter & EC_FULL
        self.power_on()

    # -- power -------------------------------------------------------------------------
    def power_on(self) -> None:
        """A power cycle: the PSC verification of the last session is gone."""
        self.unlocked = False
        self._bit_spent = False  # an error counter bit was written in this attempt
        self._compared: list[bool] = []

    @property
    def locked(self) -> bool:
        """Three failed verifications: nothing can ever be written again."""
        return self.error_counter == 0

    # -- the native commands -------------------------------------------------------------
    def command(self, control: int, address: int, data: int = 0) -> bytes:
        """Run one native command; returns what the chip clocks out (empty for processing
        commands). A write the chip ignores (protected byte, no PSC) returns nothing either:
        the chip has no status, a terminal reads back to know."""
        if not 0 <= address <= 0xFF or not 0 <= data <= 0xFF:
            raise ChipCommandError(f"address {address} / data {data} outside one byte")
        if control == READ_MAIN:
            return bytes(self.main[address:])
        if control == UPDATE_MAIN:
            self._update_main(address, data)
            return b""
        if control == READ_PROTECTION:
            return self.protection.to_bytes(4, "little")  # bit 0 of byte 0 = main byte 0
        if control == WRITE_PROTECTION:
            self._write_protection(address, data)
            return b""
        if control == READ_SECURITY:
            return bytes([self.error_counter]) + (self.psc if self.unlocked else bytes(3))
        if control == UPDATE_SECURITY:
            self._update_security(address, data)
            return b""
        if control == COMPARE_VERIFICATION:
            self._compare(address, data)
            return b""
        raise ChipCommandError(f"control byte {control:02X}h is not an SLE 4442 command")

    def _update_main(self, address: int, data: int) -> None:
        if not self.unlocked or self.locked:
            return
        if address < PROTECTABLE and not self.protection >> address & 1:
            return
        self.main[address] = data

    def _write_protection(self, address: int, data: int) -> None:
        """Freeze byte ``address`` if it holds ``data`` (the data sheet's compare-and-protect)."""
        if not self.unlocked or self.locked or address >= PROTECTABLE:
            return
        if self.main[address] == data:
            self.protection &= ~(1 << address)

    def _update_security(self, address: int, data: int) -> None:
        if address == 0:  # the error counter
            if self.unlocked:
                self.error_counter = data & EC_FULL
                return
            new = self.error_counter & data & EC_FULL  # bits may only go from 1 to 0
            if new != self.error_counter and bin(self.error_counter ^ new).count("1") == 1:
                self.error_counter = new
                self._bit_spent, self._compared = True, []
                return
            if (data & EC_FULL) == EC_FULL and self._bit_spent and self._compared == [
                    True, True, True]:
                self.error_counter, self.unlocked = EC_FULL, True  # the verification succeeds
            self._bit_spent, self._compared = False, []
            return
        if self.unlocked and 1 <= address <= 3:
            psc = bytearray(self.psc)
            psc[address - 1] = data
            self.psc = bytes(psc)

    def _compare(self, address: int, data: int) -> None:
        if not self._bit_spent or not 1 <= address <= 3:
            self._compared = [False]  # out of sequence: this attempt cannot succeed
            return
        if len(self._compared) != address - 1:
            self._compared = [False]
            return
        self._compared.append(self.psc[address - 1] == data)

    # -- persistence -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"main": self.main.hex(), "protection": self.protection,
                "psc": self.psc.hex(), "error_counter": self.error_counter}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SLE4442Chip:
        return cls(bytes.fromhex(str(data["main"])), protection=int(data["protection"]),
                   psc=bytes.fromhex(str(data["psc"])), error_counter=int(data["error_counter"]))


def verify_psc(chip_command: Any, psc: bytes) -> int:
    """The data sheet's PSC verification procedure over native commands (section 2.4): read
    the error counter, spend one bit of it, compare the three reference bytes, try to erase
    the counter, read it again. Returns the error counter after the attempt (7 = verified,
    0 = locked). ``chip_command(control, address, data) -> bytes`` is the bus."""
    ec = chip_command(READ_SECURITY, 0, 0)[0] & EC_FULL
    if ec == 0:
        return 0
    spent = ec & (ec - 1)  # clear the lowest set bit
    chip_command(UPDATE_SECURITY, 0, spent)
    for i, byte in enumerate(psc, start=1):
        chip_command(COMPARE_VERIFICATION, i, byte)
    chip_command(UPDATE_SECURITY, 0, 0xFF)
    return int(chip_command(READ_SECURITY, 0, 0)[0] & EC_FULL)
