"""The card-session deadline scenario judges what it measures: a meter whose card session
takes longer than 3 s fails it (here a CPU card that answers slowly in the meter's slot, on a
`rig sim`-style bench attached by its control channel: the meter's exchanges are not in the
bench's trace, so the courier's move is measured). And every record of a run on the esam-cpu
format says SM4 stands in for SM1."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from rig.bench.bench import open_bench
from rig.bench.config import BenchConfig
from rig.billing.connect import connect_billing
from rig.profile import load_profile
from rig.report.record import RunRecord
from rig.scenarios.certification_card_timing import card_session_within_deadline
from rig.scenarios.steps import BenchSteps
from rig.sim.emulated_bench import EmulatedBench
from rig.sim.vpcd import SlotBusyError

from .conftest import PROFILE


class _SlowInTheMeter:
    """The virtual card, 0.25 s slower per command while it sits in the meter's slot."""

    def __init__(self, app: Any, sim: EmulatedBench) -> None:
        self._app, self._sim = app, sim
        self.atr = app.atr

    def reset(self) -> None:
        self._app.reset()

    def to_dict(self) -> dict[str, Any]:
        return dict(self._app.to_dict())

    def process(self, apdu: bytes) -> bytes:
        if self._sim._card_place == "meter":
            time.sleep(0.25)
        return bytes(self._app.process(apdu))


@pytest.mark.bench
def test_a_meter_slower_than_3_s_fails_and_the_record_names_sm4(tmp_path: Path) -> None:
    sim = EmulatedBench(load_profile(PROFILE), time_scale=36000.0, noise=False)
    try:
        parts = sim.start()
    except SlotBusyError as e:  # other benches hold every reader: contention
        pytest.skip(str(e))
    try:
        sim.card.app = _SlowInTheMeter(sim.card.app, sim)
        config = BenchConfig(profile=PROFILE, sim_control=parts.control)
        with open_bench(config) as bench, \
                connect_billing(f"sqlite:///{tmp_path / 'billing.sqlite'}",
                                clock=bench.clock.now) as billing:
            assert bench.identity["meter_model"].endswith(
                "(SM4 in place of SM1 (docs/esam.md))")
            steps = BenchSteps(bench, billing, RunRecord("certification", identity={}))
            with pytest.raises(AssertionError, match=r"^card session in the meter: measurement "
                                                     r"out of limits"):
                card_session_within_deadline(steps)
    finally:
        sim.stop()
    measured = {m.name: m for m in steps.record.measurements}
    move = measured["card session in the meter (courier move, an upper bound)"]
    assert not move.passed and float(move.value) > 3  # type: ignore[arg-type]
    assert measured["card write at the vending station"].passed
    assert str(steps.record.outcome) == "fail"


def test_formats_without_a_note_leave_the_meter_model_alone() -> None:
    config = BenchConfig(profile="dlt645-1p-money")
    with open_bench(config) as bench:
        assert "SM4" not in bench.identity["meter_model"]
