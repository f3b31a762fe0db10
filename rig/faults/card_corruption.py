"""Corrupted card contents: one bit of one elementary file flipped, then the meter.

A purchase for vend 2 waits on a card whose vend 1 was applied; one bit of the card-info,
tariff, purchase or readback EF is flipped (EEPROM wear, a bad write outside our sessions).
The meter must either refuse the card without changing a register or apply exactly the sold
credit. Recovery is what the vending office does for a damaged card: the card is issued
again (the same, deterministic bytes; `rewrite`), then the customer inserts it.
"""

from __future__ import annotations

from collections.abc import Iterator

from rig.card.application import FID_CARD_INFO, FID_PURCHASE, FID_READBACK, FID_TARIFF
from rig.errors import CardError
from rig.faults.card_tearing import C1, C2, Books, Figures, applied_units, prepared
from rig.faults.card_world import NOW, registers

CORRUPTIBLE_EFS = {"card info": FID_CARD_INFO, "tariff": FID_TARIFF, "purchase": FID_PURCHASE,
                   "readback": FID_READBACK}


class RegisterChanged(CardError):
    """A refused card changed a meter register: the fault a campaign must never see."""


def corruption_points(stride: int = 1) -> Iterator[tuple[str, int, int]]:
    """(EF name, byte, bit) for every bit of every corruptible EF (every `stride`-th)."""
    w = prepared()
    points = [(name, i, bit) for name, fid in CORRUPTIBLE_EFS.items()
              for i in range(len(w.card.read_ef(fid))) for bit in range(8)]
    yield from points[::stride]


def corruption_case(ef: str, byte: int, bit: int) -> Books:
    """Flip one bit with vend 2 pending; insert; re-issue the damaged files; insert again."""
    w = prepared()
    vend = w.vend(2, C2)
    w.station.write_vend(w.slot(), vend)
    fid = CORRUPTIBLE_EFS[ef]
    good = {f: w.card.read_ef(f) for f in CORRUPTIBLE_EFS.values()}
    damaged = bytearray(good[fid])
    damaged[byte] ^= 1 << bit
    w.card.write_ef(fid, bytes(damaged))
    before = registers(w.engine)
    outcome = w.terminal.insert(w.slot(), NOW)
    if not outcome.accepted and registers(w.engine) != before:
        raise RegisterChanged(f"{ef} byte {byte} bit {bit}: refused card changed the meter "
                              f"({outcome.message})")
    if outcome.applied_sequence is None:  # the office re-issues what the card should hold
        for f in (FID_CARD_INFO, FID_TARIFF, FID_PURCHASE):
            w.card.write_ef(f, good[f])
        w.terminal.insert(w.slot(), NOW)
    return Books(C1 + C2, applied_units(w))


def run_corruption_campaign(stride: int = 1) -> Figures:
    figures = Figures()
    for ef, byte, bit in corruption_points(stride):
        try:
            figures.add(corruption_case(ef, byte, bit))
        except RegisterChanged:
            figures.cases += 1
            figures.duplicated += 1  # credit state moved without a valid purchase
        except CardError as e:
            figures.add(e)
    return figures
