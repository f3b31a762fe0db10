"""A bench left by any path says what its safe state did, read back from the instruments."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from rig.bench.config import BenchConfig
from rig.bench.safe_report import watts
from rig.profile import load_profile
from rig.scenarios.prepaid_cycle import CycleParams
from rig.scenarios.runner import run_prepaid_cycle
from rig.sim.emulated_bench import EmulatedBench
from tests.faults.test_safe_state import Interrupter, ended, run_until_load_on


@pytest.fixture
def sim() -> Iterator[EmulatedBench]:
    with EmulatedBench(load_profile(), time_scale=360000.0) as bench:
        yield bench


def test_an_instrument_error_mid_consumption_reports_the_safe_state(
        sim: EmulatedBench, tmp_path: Path) -> None:
    assert sim.parts is not None
    run = run_prepaid_cycle(BenchConfig(sim_control=sim.parts.control),
                            params=CycleParams(amount=Decimal("20.00")), run_dir=tmp_path,
                            observer=Interrupter("consume to cut-off",
                                                 RuntimeError("instrument died")))
    said = str(run.record.summary["safe state"])
    assert said.startswith("safe: load input off (read back: off, 0.000 W)"), said
    assert "card powered down" in said
    assert f"meter port {sim.parts.meter_port} closed" in said
    assert f"load session {sim.parts.load_resource} closed" in said
    assert sim.world.load.input_on is False


def test_ctrl_c_during_consumption_prints_the_safe_state_and_final_readings(
        sim: EmulatedBench, tmp_path: Path) -> None:
    proc = run_until_load_on(sim, tmp_path)
    try:
        time.sleep(0.3)  # into the consumption phase, with the status line showing power
        masks = [line for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines()
                 if line.startswith(("SigBlk", "SigIgn", "SigCgt"))]
        proc.send_signal(signal.SIGINT)
        out, err = ended(proc, f"signal masks before SIGINT: {masks}")
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, f"{masks}\n{out}{err}"
    flat = " ".join(out.replace("│", " ").split())
    assert "interrupted" in flat and "KeyboardInterrupt" not in out + err
    assert "safe: load input off (read back: off, 0.000 W)" in flat, out
    assert "card powered down" in flat
    # The live status line ends on what the bench reads after the safe state, not the last
    # reading under load.
    assert "load: off" in err.splitlines()[-1] or "load: off" in err[-400:]
    assert sim.world.load.input_on is False


@pytest.mark.parametrize(("power", "relay_open", "shown"), [
    (Decimal("-0.042"), True, "0.000 W"),
    (Decimal("0.3"), True, "0.000 W"),
    (Decimal("1999.272"), False, "1999.272 W"),
    (Decimal("-0.042"), False, "-0.042 W"),  # relay closed: the sign may mean something
    (Decimal("-25"), True, "-25.000 W"),  # far beyond the zero offset: a real reading
])
def test_power_noise_is_shown_as_zero_only_where_it_is_noise(
        power: Decimal, relay_open: bool, shown: str) -> None:
    assert watts(power, relay_open=relay_open) == shown
