"""A supply cut at a chosen moment of the next card session (the emulated bench's `meter_power`
op with `during`): what a grid outage does when it lands while the meter holds a card.

The moments are the three phases of an insertion (docs/card-spec.md, "Meter session"), seen
from the card slot, so the card terminal needs no switch for them:

- `after check` — the check phase has ended (the card answered the meter's EXTERNAL
  AUTHENTICATE) and nothing has been applied yet;
- `during credit transfer` — the purchase has been applied and the meter is about to write
  the readback (its first card command after the apply);
- `during readback write` — the UPDATE BINARY of the readback is torn: the card keeps the
  first half of the new bytes and the meter loses its supply.

A memory card's meter speaks the chip's own 3-byte commands (control, address, data) to it,
not APDUs: there the check ends with the PSC verified (the error counter read back full after
the compare), and the readback write is torn after its first byte update.

The firmware saves its registers and goes dark at the cut (`PowerFailure`); the bench's
`meter_power` op with `on` restores it.
"""

from __future__ import annotations

from typing import Literal, get_args

from rig.card.apdu import INS_EXTERNAL_AUTHENTICATE, INS_UPDATE_BINARY
from rig.card.session import ApduTransport

# SLE 4442 chip-bus control bytes (Infineon SLE 4442 data sheet): the memory-card session.
_READ_SECURITY, _COMPARE_VERIFICATION, _UPDATE_MAIN = 0x31, 0x33, 0x38
_EC_FULL = 0b111  # error counter after a verified PSC

CutMoment = Literal["after check", "during credit transfer", "during readback write"]
CUT_MOMENTS: tuple[CutMoment, ...] = get_args(CutMoment)


class SupplyCut(Exception):
    """The supply failed at the armed moment (the firmware turns it into a power-down)."""


def cut_moment(value: object) -> CutMoment:
    """`value` as a moment (ValueError naming the known ones)."""
    for moment in CUT_MOMENTS:
        if value == moment:
            return moment
    raise ValueError(f"unknown supply cut moment {value!r} (one of: {', '.join(CUT_MOMENTS)})")


class CuttingTransport:
    """The card slot of a meter whose supply fails at `moment` of this session."""

    def __init__(self, inner: ApduTransport, moment: CutMoment) -> None:
        self.inner = inner
        self.moment = moment
        self.name = getattr(inner, "name", "cutting")
        self._checked = False  # the check phase's EXTERNAL AUTHENTICATE has been answered

    def transmit(self, apdu: bytes) -> bytes:
        if len(apdu) == 3:  # a memory card's chip bus, not an APDU
            return self._chip_command(apdu)
        ins = apdu[1] if len(apdu) > 1 else -1
        if self._checked and self.moment == "during credit transfer":
            raise SupplyCut("supply cut during credit transfer (applied, readback not begun)")
        if self._checked and ins == INS_UPDATE_BINARY and self.moment == "during readback write":
            self.inner.transmit(_torn(apdu))
            raise SupplyCut("supply cut during readback write (the card half written)")
        reply = self.inner.transmit(apdu)
        if ins == INS_EXTERNAL_AUTHENTICATE and reply[-2:] == b"\x90\x00":
            self._checked = True
            if self.moment == "after check":
                raise SupplyCut("supply cut after check (nothing applied yet)")
        return reply


    _compared = False  # the chip bus: a PSC compare has been sent

    def _chip_command(self, command: bytes) -> bytes:
        control = command[0]
        if self._checked and self.moment == "during credit transfer":
            raise SupplyCut("supply cut during credit transfer (applied, readback not begun)")
        reply = self.inner.transmit(command)
        if self._checked and control == _UPDATE_MAIN and self.moment == "during readback write":
            raise SupplyCut("supply cut during readback write (its first byte written)")
        if control == _COMPARE_VERIFICATION:
            self._compared = True
        elif control == _READ_SECURITY and self._compared and reply[:1] and \
                reply[0] & _EC_FULL == _EC_FULL:
            self._checked = True
            if self.moment == "after check":
                raise SupplyCut("supply cut after check (PSC verified, nothing applied yet)")
        return reply


def _torn(apdu: bytes) -> bytes:
    """An UPDATE BINARY cut half way: the same command carrying the first half of its data."""
    header, length, data = apdu[:4], apdu[4], apdu[5:]
    half = max(1, length // 2)
    return header + bytes([half]) + data[:half]
