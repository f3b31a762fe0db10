"""Replaying a saved trace on a virtual SLE 4442: the replaying lab's own PSC where the trace
has none.

A trace never holds a PSC (the writer redacts the data of a PSC pseudo-APDU, the meter's chip
bus keeps only the control and address bytes of a COMPARE). To replay those exchanges, the lab
presents its **own** PSC for the card, derived from its key source for the binding the card
holds at that moment, as its station and meters would (the factory PSC ``FF FF FF`` for a
blank card) — never anything from the trace. A card issued under other keys, a locked card or
one whose PSC changed then answers differently, and the replay reports it.
"""

from __future__ import annotations

from rig.card.apdu import RecordError
from rig.card_formats.interface import KeySource
from rig.card_formats.sle4442 import layout
from rig.card_formats.sle4442.chip import (
    COMPARE_VERIFICATION,
    EC_FULL,
    FACTORY_PSC,
    READ_SECURITY,
    SLE4442Chip,
)
from rig.card_formats.sle4442.psc import meter_psc

PRESENT_PSC, CHANGE_PSC = 0x20, 0xD2  # the pseudo-APDUs whose 3-byte data is a PSC
# The status word of an accepted PRESENT PSC / VERIFY, per dialect (docs/card-formats/
# sle4442.md, "Reader dialects"): ACS answers 90 and the error counter (07 = verified).
_ACCEPTED = {"acs": 0x9000 | EC_FULL, "omnikey": 0x9000}


def lab_psc(chip: SLE4442Chip, keys: KeySource) -> bytes | None:
    """The PSC this lab uses for the card as it is now: its binding's (read from the identity
    block, as anyone can), the factory PSC if it is blank, None if the identity is torn."""
    raw = bytes(chip.main[layout.IDENTITY_AT:layout.IDENTITY_AT + layout.IDENTITY_SIZE])
    try:
        identity = layout.Identity.decode(raw)
    except RecordError:
        return None
    if identity is None:
        return FACTORY_PSC
    return meter_psc(keys, identity.meter_no, identity.key_revision)


def writer_command(chip: SLE4442Chip, dialect: str, recorded: bytes, response: bytes,
                   keys: KeySource) -> bytes | None:
    """The PSC pseudo-APDU ``recorded`` (its header; the PSC cut out) with the lab's PSC as
    its data. A presentation the trace records as refused is replayed with a code that is
    not the lab's PSC, so the card spends an attempt as it did then. None: not a PSC command,
    or no PSC known for the card."""
    if len(recorded) != 5 or recorded[0] != 0xFF or recorded[4] != 3 or \
            recorded[1] not in (PRESENT_PSC, CHANGE_PSC):
        return None
    psc = lab_psc(chip, keys)
    if psc is None:
        return None
    if recorded[1] == PRESENT_PSC and int.from_bytes(response[-2:], "big") != _ACCEPTED[dialect]:
        psc = bytes(b ^ 0xFF for b in psc)
    return recorded + psc


def native_command(chip: SLE4442Chip, recorded: bytes, keys: KeySource) -> bytes | None:
    """The meter's native command ``recorded`` made whole: a COMPARE with the byte of the
    lab's PSC it compares; a READ SECURITY with its data byte (the chip ignores it; traces
    before it was kept cut it). None for anything else."""
    if len(recorded) < 2:
        return None
    control, address = recorded[0], recorded[1]
    if control == READ_SECURITY:
        return bytes([control, address, 0])
    if control == COMPARE_VERIFICATION and 1 <= address <= 3:
        psc = lab_psc(chip, keys)
        return None if psc is None else bytes([control, address, psc[address - 1]])
    return None
