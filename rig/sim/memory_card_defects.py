"""Mutant memory-card meters: wrong methods of the SLE 4442 meter reader.

A memory card has no MAC, so its meter's defences are the binding, the PSC, the purchase
count and the readback it MACs itself (docs/card-formats/sle4442.md, "Security"); each class
here breaks one of them, as a firmware bug would, for the catalogue in rig.sim.defects.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from rig.card.keys import derive_readback_mac_key, mac
from rig.card_formats.sle4442 import layout
from rig.card_formats.sle4442.reader import SLE4442MeterReader


class AnyMeter(SLE4442MeterReader):
    """The meter number on the card is never compared with the meter's own."""

    def _check_issued(self, bus: Any, memory: bytes, identity: layout.Identity) -> Any:
        return super()._check_issued(bus, memory, replace(identity, meter_no=self.meter_no))


class ReplayApplied(SLE4442MeterReader):
    """A purchase count equal to the last applied one is applied again (off by one)."""

    def _check_user(self, plan: Any) -> None:
        super()._check_user(plan)
        if plan.purchase is None:
            p = self._block(layout.PurchaseBlock, plan, layout.PURCHASE_AT)
            if p is not None and p.sequence == self.wallet.last_sequence:
                plan.purchase = p


class ParametersIgnored(SLE4442MeterReader):
    """A parameter card is accepted, but the meter keeps the levels it holds."""

    def _levels(self, p: layout.ParameterBlock) -> dict[str, Decimal]:
        t = self.wallet.thresholds_with()
        return {"alarm1": t.alarm1, "alarm2": t.alarm2,
                "overdraft_limit": t.overdraft_limit, "hoarding_limit": t.hoarding_limit}


class WrongReadback(SLE4442MeterReader):
    """A readback with one field wrong (`mutate`), MAC'd as genuine: the meter means it."""

    def mutate(self, block: layout.ReadbackBlock) -> layout.ReadbackBlock:
        return block

    def readback(self, at: datetime, generation: int) -> layout.ReadbackBlock:
        block = self.mutate(super().readback(at, generation))
        key = derive_readback_mac_key(self._readback_key, self.key_revision)
        return replace(block, mac=mac(key, block.signed()))


class StaleEnergy(WrongReadback):
    _last_energy: int | None = None

    def mutate(self, block: layout.ReadbackBlock) -> layout.ReadbackBlock:
        stale, self._last_energy = self._last_energy, block.energy_wh
        return block if stale is None else replace(block, energy_wh=stale)


class WrongLastSequence(WrongReadback):
    def mutate(self, block: layout.ReadbackBlock) -> layout.ReadbackBlock:
        return replace(block, last_sequence=max(0, block.last_sequence - 1))


class WrongRelayState(WrongReadback):
    def mutate(self, block: layout.ReadbackBlock) -> layout.ReadbackBlock:
        return replace(block, relay_open=not block.relay_open)


def wrong_readback_key(reader: SLE4442MeterReader) -> None:
    """The readback MAC'd under a key that is not the meter's."""
    reader._readback_key = bytes(b ^ 0x5A for b in reader._readback_key)
