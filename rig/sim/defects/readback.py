"""Defects in the readback the meter writes onto the card for the billing centre: stale
energy, the wrong last sequence, the relay state inverted, a MAC under the wrong key."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from rig.card.records import ReadbackRecord
from rig.card_formats.rigpp.meter import MeterCardTerminal
from rig.card_formats.sle4442.reader import SLE4442MeterReader
from rig.sim import memory_card_defects as mc
from rig.sim.defects.applies_to import rigpp, sle4442
from rig.sim.defects.entry import Defect
from rig.sim.defects.parts import terminal
from rig.sim.defects.requirements import BUY, CYCLES

if TYPE_CHECKING:
    from rig.sim.meter_firmware import EmulatedMeter


class _Readback(MeterCardTerminal):
    """A readback with one field wrong (`mutate`)."""

    def mutate(self, record: ReadbackRecord) -> ReadbackRecord:
        return record

    def readback(self, at: datetime) -> ReadbackRecord:
        return self.mutate(super().readback(at))


class _StaleEnergy(_Readback):
    _last_energy: int | None = None

    def mutate(self, record: ReadbackRecord) -> ReadbackRecord:
        stale = self._last_energy
        self._last_energy = record.energy_wh
        return record if stale is None else replace(record, energy_wh=stale)


class _WrongLastSequence(_Readback):
    def mutate(self, record: ReadbackRecord) -> ReadbackRecord:
        return replace(record, last_sequence=max(0, record.last_sequence - 1))


class _WrongRelayState(_Readback):
    def mutate(self, record: ReadbackRecord) -> ReadbackRecord:
        return replace(record, relay_open=not record.relay_open)


def _wrong_readback_key(meter: EmulatedMeter) -> None:
    t = meter.terminal
    assert isinstance(t, MeterCardTerminal)
    t._readback_key = bytes(b ^ 0x5A for b in t._readback_key)


def _sle4442_readback_key(meter: EmulatedMeter) -> None:
    t = meter.terminal
    assert isinstance(t, SLE4442MeterReader)
    mc.wrong_readback_key(t)


DEFECTS = (
    Defect("readback-stale-energy", CYCLES, "readback reports the energy of the previous "
           "readback", terminal(_StaleEnergy), rigpp),
    Defect("readback-wrong-last-sequence", BUY, "readback reports the sequence before the "
           "last one applied", terminal(_WrongLastSequence), rigpp),
    Defect("readback-wrong-relay-state", BUY, "readback reports the relay state inverted",
           terminal(_WrongRelayState), rigpp),
    Defect("readback-mac-wrong", BUY, "readback MAC'd under a wrong key", _wrong_readback_key,
           rigpp),
    Defect("sle4442-readback-stale-energy", CYCLES, "readback reports the energy of the "
           "previous readback", terminal(mc.StaleEnergy), sle4442),
    Defect("sle4442-readback-wrong-last-sequence", BUY, "readback reports the sequence before "
           "the last one applied", terminal(mc.WrongLastSequence), sle4442),
    Defect("sle4442-readback-wrong-relay-state", BUY, "readback reports the relay state "
           "inverted", terminal(mc.WrongRelayState), sle4442),
    Defect("sle4442-readback-mac-wrong", BUY, "readback MAC'd under a wrong key",
           _sle4442_readback_key, sle4442),
)
