"""Corrupted card contents: one bit of one data region flipped, then the meter — on any card
format whose virtual card names its regions.

A purchase for vend 2 waits on a card whose vend 1 was applied; one bit of one region is
flipped (EEPROM wear, a bad write outside our sessions): RIGPP's card-info, tariff, purchase
and readback EFs, an SLE 4442's identity, purchase and two readback blocks (the card's
``memory_regions()``, ``read_region``, ``write_region``). The meter must either refuse the card
without changing a register or apply exactly the sold credit. Recovery is what the vending
office does for a damaged card: the card is issued again (the regions the station writes, with
the same, deterministic bytes), then the customer inserts it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rig.card.application import FID_CARD_INFO, FID_PURCHASE, FID_READBACK, FID_TARIFF
from rig.card_formats.registry import DEFAULT
from rig.card_formats.tearing import C1, C2, TearingFigures
from rig.errors import CardError
from rig.faults.card_tearing import Books, applied_units, count_case, prepared
from rig.faults.card_world import NOW, registers

# RIGPP's card (rig.card.application.CardApplication): its EFs, and whether the station
# writes them again on a re-issue (the readback is the meter's).
CORRUPTIBLE_EFS = {"card info": FID_CARD_INFO, "tariff": FID_TARIFF, "purchase": FID_PURCHASE,
                   "readback": FID_READBACK}


class RegisterChanged(CardError):
    """A refused card changed a meter register: the fault a campaign must never see."""


class _Regions:
    """A card's corruptible regions: its own (``memory_regions``) or RIGPP's EFs."""

    def __init__(self, card: Any) -> None:
        self.card = card
        own = getattr(card, "memory_regions", None)
        if own is not None:
            self.reissued = {name: again for name, (_, _, again) in own().items()}
        elif hasattr(card, "read_ef"):
            self.reissued = {name: name != "readback" for name in CORRUPTIBLE_EFS}
        else:
            raise CardError(f"not applicable: {type(card).__name__} names no data regions "
                            "(memory_regions) to corrupt")

    def read(self, name: str) -> bytes:
        if name in CORRUPTIBLE_EFS and not hasattr(self.card, "memory_regions"):
            return bytes(self.card.read_ef(CORRUPTIBLE_EFS[name]))
        return bytes(self.card.read_region(name))

    def write(self, name: str, data: bytes) -> None:
        if name in CORRUPTIBLE_EFS and not hasattr(self.card, "memory_regions"):
            self.card.write_ef(CORRUPTIBLE_EFS[name], data)
        else:
            self.card.write_region(name, data)


def corruption_points(stride: int = 1,
                      card_format_name: str = DEFAULT) -> Iterator[tuple[str, int, int]]:
    """(region name, byte, bit) for every bit of every region (every `stride`-th)."""
    regions = _Regions(prepared(card_format_name).card)
    points = [(name, i, bit) for name in regions.reissued
              for i in range(len(regions.read(name))) for bit in range(8)]
    yield from points[::stride]


def corruption_case(region: str, byte: int, bit: int,
                    card_format_name: str = DEFAULT) -> Books:
    """Flip one bit with vend 2 pending; insert; re-issue the damaged regions; insert again."""
    w = prepared(card_format_name)
    vend = w.vend(2, C2)
    w.station.write_vend(w.slot(), vend)
    regions = _Regions(w.card)
    good = {name: regions.read(name) for name in regions.reissued}
    damaged = bytearray(good[region])
    damaged[byte] ^= 1 << bit
    regions.write(region, bytes(damaged))
    before = registers(w.engine)
    outcome = w.terminal.insert(w.meter_slot(), NOW)
    if not outcome.accepted and registers(w.engine) != before:
        raise RegisterChanged(f"{region} byte {byte} bit {bit}: refused card changed the meter "
                              f"({outcome.message})")
    if outcome.applied_sequence is None:  # the office re-issues what the card should hold
        for name, again in regions.reissued.items():
            if again:
                regions.write(name, good[name])
        w.terminal.insert(w.meter_slot(), NOW)
    return Books(C1 + C2, applied_units(w))


def run_corruption_campaign(stride: int = 1,
                            card_format_name: str = DEFAULT) -> TearingFigures:
    figures = TearingFigures()
    for region, byte, bit in corruption_points(stride, card_format_name):
        try:
            count_case(figures, corruption_case(region, byte, bit, card_format_name))
        except RegisterChanged:
            # credit state moved without a valid purchase
            figures.count(lost=False, duplicated=True, unrecovered=False)
        except CardError as e:
            count_case(figures, e)
    return figures
