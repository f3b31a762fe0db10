"""A consumption phase that runs past its predicted time fails with a timeout verdict (issue 30:
`rig run --power 0` used to wait 200 bench hours in "consume to alarm"). Here the emulated
load draws a tenth of its set point behind the rig's back, so the alarms come ten times late."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from rig.bench.config import BenchConfig
from rig.profile import load_profile
from rig.report.record import Outcome, Step
from rig.scenarios.prepaid_cycle import PHASES, CycleParams
from rig.scenarios.runner import run_prepaid_cycle
from rig.sim.emulated_bench import EmulatedBench


@pytest.fixture
def sim() -> Iterator[EmulatedBench]:
    with EmulatedBench(load_profile(), time_scale=36000.0) as bench:
        yield bench


class SlowLoad:
    """At the first live reading under load, the load starts drawing a tenth of its set point."""

    def __init__(self, sim: EmulatedBench) -> None:
        self.sim, self.done = sim, False

    def step_started(self, step: Step) -> None:
        pass

    def step_finished(self, step: Step) -> None:
        pass

    def reading(self, values: dict[str, str]) -> None:
        if not self.done and self.sim.world.load.input_on:
            self.sim.world.load.set_power(self.sim.world.load.power_setpoint / 10)
            self.done = True


def overrun(sim: EmulatedBench, slow: SlowLoad, tmp_path: Path, phase: str) -> Step:
    """Run the cycle with ``slow`` slowing the load; the run is a failed verdict (not a bench
    error), ``phase`` failed, and the bench was left safe. Returns the phase's step."""
    assert sim.parts is not None
    run = run_prepaid_cycle(BenchConfig(sim_control=sim.parts.control),
                            params=CycleParams(amount=Decimal("20.00")), run_dir=tmp_path,
                            observer=slow)
    assert slow.done
    assert isinstance(run.error, AssertionError)
    assert str(run.record.outcome) == "fail"
    assert sim.world.load.input_on is False
    step = next(s for s in run.record.steps if s.name == phase)
    assert step.outcome is Outcome.FAIL
    assert " not reached by " in step.error and " bench time: " in step.error, step.error
    assert "profile accuracy class" in step.error
    return step


def test_alarms_later_than_predicted_fail_the_phase_with_a_timeout(
        sim: EmulatedBench, tmp_path: Path) -> None:
    phase = overrun(sim, SlowLoad(sim), tmp_path, PHASES[5])
    assert phase.error.startswith("timeout: alarm "), phase.error
    assert "alarm 2 predicted" in phase.error


class SlowLoadFromCutoffPhase(SlowLoad):
    """The load drops to a tenth of its set point once the alarms have been seen."""

    def step_started(self, step: Step) -> None:
        if step.name == PHASES[6] and not self.done:
            self.sim.world.load.set_power(self.sim.world.load.power_setpoint / 10)
            self.done = True

    def reading(self, values: dict[str, str]) -> None:
        pass


def test_a_cut_off_later_than_predicted_fails_the_phase_with_a_timeout(
        sim: EmulatedBench, tmp_path: Path) -> None:
    phase = overrun(sim, SlowLoadFromCutoffPhase(sim), tmp_path, PHASES[6])
    assert phase.error.startswith("timeout: cut-off not reached by "), phase.error
    assert "cut-off predicted" in phase.error
