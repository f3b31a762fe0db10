"""The virtual SLE 4442 card: the chip behind one reader dialect, plus the chip's own bus.

On the emulated bench the vending station reaches it through vpcd with the dialect's
pseudo-APDUs (:meth:`VirtualSLE4442.process`); the emulated meter reaches the chip directly
through :class:`NativeBus`, as a real meter does on its 2-wire bus: no PC/SC reader between.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rig.card.apdu import CardRemovedError
from rig.card_formats.interface import KeySource
from rig.card_formats.sle4442 import layout
from rig.card_formats.sle4442.chip import (
    COMPARE_VERIFICATION,
    READ_MAIN,
    READ_PROTECTION,
    READ_SECURITY,
    UPDATE_MAIN,
    UPDATE_SECURITY,
    WRITE_PROTECTION,
    SLE4442Chip,
)
from rig.card_formats.sle4442.dialects import checked, front_end, issuing_select
from rig.card_formats.sle4442.replay import native_command, writer_command
from rig.errors import CardError

# The data sheet's names of the native commands (docs/card-formats/sle4442.md, "The chip").
NATIVE_NAMES = {READ_MAIN: "READ MAIN MEMORY", UPDATE_MAIN: "UPDATE MAIN MEMORY",
                READ_PROTECTION: "READ PROTECTION MEMORY",
                WRITE_PROTECTION: "WRITE PROTECTION MEMORY",
                READ_SECURITY: "READ SECURITY MEMORY", UPDATE_SECURITY: "UPDATE SECURITY MEMORY",
                COMPARE_VERIFICATION: "COMPARE VERIFICATION DATA"}

# The ATR a PC/SC reader reports for an SLE 4442: TS 3B, T0 04 (4 historical bytes) and the
# chip's own 4-byte answer to reset A2 13 10 91 (docs/card-formats/sle4442.md, "ATR").
ATR = bytes.fromhex("3B04A2131091")


class VirtualSLE4442:
    """A card on the emulated bench (a ``VirtualCardApp``): reset = power cycle."""

    def __init__(self, chip: SLE4442Chip | None = None, dialect: str | None = None, *,
                 issue_dialect: str | None = None) -> None:
        self.chip = chip or SLE4442Chip()
        self.dialect = checked(dialect)
        self.front = front_end(self.dialect, self.chip)
        # The issuing writer's dialect (None: the card is issued in its own writer). The
        # emulated bench has one writer, so the card answers that dialect from the issuing
        # client's first command until the next power cycle: the card moved to the issuing
        # writer and back.
        self.issue_dialect = None if issue_dialect is None else checked(issue_dialect)
        self._issuing = False
        self.atr = ATR
        self.front.power_on()

    def in_reader(self, dialect: str) -> VirtualSLE4442:
        """The same chip put into a reader of another dialect (issue on one writer, sell on
        another)."""
        return VirtualSLE4442(self.chip, dialect)

    def reset(self) -> None:
        """Power cycle: the PSC verification of the last session is lost (and the card is
        back in its own writer)."""
        if self._issuing:
            self.front, self._issuing = front_end(self.dialect, self.chip), False
        self.front.power_on()

    power = reset  # what rig.sim.virtual_card.VpcdLink calls

    def process(self, apdu: bytes) -> bytes:
        apdu = bytes(apdu)
        if self.issue_dialect is not None and not self._issuing and \
                apdu == issuing_select(self.issue_dialect):
            self.front, self._issuing = front_end(self.issue_dialect, self.chip), True
            self.front.power_on()
        return self.front.process(apdu)

    def memory_regions(self) -> dict[str, tuple[int, int, bool]]:
        """The card's data regions for the fault campaigns' bit flips: name -> (address,
        size, whether the station writes it again when it re-issues a damaged card)."""
        return {"identity": (layout.IDENTITY_AT, layout.IDENTITY_SIZE, True),
                "purchase": (layout.PURCHASE_AT, layout.BLOCK_SIZE, True),
                **{f"readback {name}": (at, layout.READBACK_SIZE, False)
                   for name, at in zip("AB", layout.READBACK_SLOTS, strict=True)}}

    def read_region(self, name: str) -> bytes:
        at, size, _ = self.memory_regions()[name]
        return bytes(self.chip.main[at:at + size])

    def write_region(self, name: str, data: bytes) -> None:
        """Put ``data`` into the region as EEPROM wear or the vending office's re-issue would:
        past the PSC and the protection bits (a fault, not a command)."""
        at, size, _ = self.memory_regions()[name]
        if len(data) != size:
            raise ValueError(f"region {name} is {size} bytes, got {len(data)}")
        self.chip.main[at:at + size] = data

    def writes_memory(self, apdu: bytes) -> bool:
        """Is ``apdu`` this dialect's main-memory write (the chip takes it byte by byte, so a
        pulled card keeps a prefix)? For the fault campaigns' tear points."""
        return len(apdu) > 5 and apdu[0] == 0xFF and apdu[1] == self.front.write_ins

    def tear_after(self, count: int | None) -> None:
        """Pull the card after ``count`` more main-memory bytes written (None = never)."""
        self.front.tear_after = count

    def meter_slot(self) -> NativeBus:
        """The chip's contacts, for the emulated meter's card slot (powers the chip up)."""
        self.front.power_on()
        return NativeBus(self)

    def replay_command(self, recorded: bytes, response: bytes, keys: KeySource, *,
                       meter_side: bool) -> bytes | None:
        """A redacted exchange of a saved trace made whole with the replaying lab's own PSC
        (``rig card replay``, docs/card-formats.md): the command to send, or None to skip it."""
        if meter_side:
            return native_command(self.chip, recorded, keys)
        return writer_command(self.chip, self.front.name, recorded, response, keys)

    def to_dict(self) -> dict[str, Any]:
        saved = {"format": "sle4442", "dialect": self.dialect, "chip": self.chip.to_dict()}
        return saved if self.issue_dialect is None else {**saved,
                                                         "issue_dialect": self.issue_dialect}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VirtualSLE4442:
        try:
            if data.get("format") != "sle4442":
                raise ValueError(f"not an SLE 4442 card (format {data.get('format')!r})")
            issue = data.get("issue_dialect")
            return cls(SLE4442Chip.from_dict(data["chip"]), str(data.get("dialect", "acs")),
                       issue_dialect=None if issue is None else str(issue))
        except (KeyError, ValueError, TypeError) as e:
            raise CardError(f"virtual SLE 4442: not a saved card ({e})") from None


class NativeBus:
    """The meter side's transport: one native command (control, address, data) a
    ``transmit``, answered with the bytes the chip clocks out (no status word: the chip has
    none). A card pulled mid-write raises CardRemovedError, as a real slot's contact switch."""

    name = "sle4442-native"

    def __init__(self, card: VirtualSLE4442) -> None:
        self.card = card

    @staticmethod
    def secret_command(command: bytes) -> int | None:
        """The bytes of ``command`` a trace may keep (its answer is then cut whole), or None
        if the exchange holds no secret. A PSC compared or written keeps its control and
        address bytes only; the security memory read keeps its command, which carries no
        secret, but not its answer (it shows the PSC once the card is unlocked)."""
        if len(command) != 3:
            return None
        control, address = command[0], command[1]
        if control == READ_SECURITY:
            return 3
        if control == COMPARE_VERIFICATION or (
                control == UPDATE_SECURITY and address != 0):  # address 0: the error counter
            return 2
        return None

    @staticmethod
    def describe(command: bytes) -> str:
        """The command's name and address, for a trace (never its data: it may be a PSC)."""
        name = NATIVE_NAMES.get(command[0], f"control {command[0]:02X}h") if command else "?"
        return f"{name} at {command[1]:02X}h" if len(command) > 1 else name

    def transmit(self, command: bytes) -> bytes:
        if len(command) != 3:
            raise CardError(f"native SLE 4442 command is 3 bytes, got {len(command)}")
        control, address, data = command
        front = self.card.front
        tear = front.tear_after
        if control == 0x38 and tear is not None:  # UPDATE MAIN MEMORY, one byte
            if tear == 0:
                raise CardRemovedError(f"virtual SLE 4442 pulled before the update of byte "
                                       f"{address}")
            front.tear_after = tear - 1
        return self.card.chip.command(control, address, data)

    def command(self, control: int, address: int, data: int = 0) -> bytes:
        return self.transmit(bytes([control, address, data]))


class WriterSlot:
    """The card in a card writer, in-process (tests, fault campaigns): the dialect's
    pseudo-APDUs straight to the virtual reader. Inserting it powers the card up."""

    name = "in-process writer"

    def __init__(self, card: VirtualSLE4442) -> None:
        self.card = card
        card.reset()

    def transmit(self, apdu: bytes) -> bytes:
        return self.card.process(apdu)
