"""What a hand does at the meter besides the card: its supply switch (a grid outage and its
end) and its terminal cover; on an emulated bench also an outage landing at a chosen moment of
the next card session (rig.sim.supply_cut).

On a real bench the operator does it (a prompt with a timeout); a cut inside a card session
needs the emulated bench, whose card slot can time it to one card command.
"""

from __future__ import annotations

from typing import Any

from rig.bench.operator import OperatorConsole
from rig.errors import RigError
from rig.scenarios.steps import BenchSteps
from rig.sim.supply_cut import CutMoment


def _by_hand(s: BenchSteps, what: str, op: str, **params: Any) -> None:
    if s.bench.sim is not None:
        s.bench.sim.call(op, **params)
    else:
        OperatorConsole().confirm(what)


def supply_off(s: BenchSteps) -> None:
    """The meter loses its supply now (it saves its registers and goes dark)."""
    _by_hand(s, "switch the meter's supply off", "meter_power", on=False)


def supply_on(s: BenchSteps) -> None:
    """The meter's supply comes back (it reloads its registers and resumes)."""
    _by_hand(s, "switch the meter's supply back on", "meter_power", on=True)


def supply_cut_during_next_insertion(s: BenchSteps, moment: CutMoment) -> None:
    """The supply fails at `moment` of the next card session (emulated bench only)."""
    if s.bench.sim is None:
        raise RigError(f"a supply cut {moment} needs an emulated bench: a real bench cannot "
                       "time a cut to one card command")
    s.bench.sim.call("meter_power", on=False, during=moment)


def cover_open(s: BenchSteps) -> None:
    _by_hand(s, "lift the meter's terminal cover", "meter_cover", open=True)


def cover_close(s: BenchSteps) -> None:
    _by_hand(s, "put the meter's terminal cover back", "meter_cover", open=False)
