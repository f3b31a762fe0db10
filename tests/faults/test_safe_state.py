"""Leaving a bench by any path puts it in its safe state: load off, card down, ports closed.

The emulated bench runs in the test process (so its load and card can be inspected from the
outside) and the rig attaches to it through its control channel, as it would to `rig sim`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from rig.bench.config import BenchConfig
from rig.profile import load_profile
from rig.report.record import Step
from rig.scenarios.prepaid_cycle import PHASES, CycleParams
from rig.scenarios.runner import run_prepaid_cycle
from rig.sim.emulated_bench import EmulatedBench


class Interrupter:
    """Raises `exc` when phase `phase` starts (an Observer of the run)."""

    def __init__(self, phase: str, exc: BaseException) -> None:
        self.phase, self.exc = phase, exc

    def step_started(self, step: Step) -> None:
        if step.name == self.phase:
            raise self.exc

    def step_finished(self, step: Step) -> None:
        pass

    def reading(self, values: dict[str, str]) -> None:
        pass


@pytest.fixture
def sim() -> Iterator[EmulatedBench]:
    with EmulatedBench(load_profile(), time_scale=360000.0) as bench:
        yield bench


def open_fds_to(path: str) -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == path:
                count += 1
        except OSError:
            continue
    return count


# The load is on from "load on: consume to alarm" until "load off": interrupting there is
# what a safe state must survive; every other phase must not leave anything behind either.
@pytest.mark.parametrize("phase", PHASES[3:10])
@pytest.mark.parametrize("exc", [KeyboardInterrupt("Ctrl-C"), RuntimeError("instrument died")],
                         ids=["ctrl-c", "exception"])
def test_interrupt_at_any_phase_leaves_the_bench_safe(sim: EmulatedBench, tmp_path: Path,
                                                      phase: str, exc: BaseException) -> None:
    assert sim.parts is not None
    config = BenchConfig(sim_control=sim.parts.control)
    sims_own = open_fds_to(sim.parts.meter_port)  # the emulated meter keeps its pty end
    run = run_prepaid_cycle(config, params=CycleParams(amount=Decimal("20.00")),
                            run_dir=tmp_path, observer=Interrupter(phase, exc))
    assert type(run.error) is type(exc)
    assert sim.world.load.input_on is False, f"load left on after interrupt at {phase!r}"
    assert open_fds_to(sim.parts.meter_port) == sims_own, "serial port left open"
    assert (tmp_path / "report.json").is_file(), "no report after an interrupted run"


def run_until_load_on(sim: EmulatedBench, tmp_path: Path) -> subprocess.Popen[str]:
    """`rig run` attached to `sim` as a separate process, returned once the load is on."""
    assert sim.parts is not None
    bench = tmp_path / "attach.toml"
    bench.write_text(f'kind = "emulated"\nsim_control = "{sim.parts.control}"\n')
    proc = subprocess.Popen(
        [sys.executable, "-m", "rig.cli.main", "run", "--bench", str(bench), "--out",
         str(tmp_path), "--amount", "5000"], stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONFAULTHANDLER": "1"})  # SIGABRT: every thread's stack
    deadline = time.monotonic() + 60
    while not sim.world.load.input_on:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"the run never switched the load on: {proc.communicate()}")
        time.sleep(0.02)
    return proc


def ended(proc: subprocess.Popen[str], context: str = "",
          within_s: float = 60) -> tuple[str, str]:
    """The signalled run's stdout and stderr once it has ended; if it has not within
    `within_s`, where each of its threads is (faulthandler's dump on SIGABRT)."""
    try:
        return proc.communicate(timeout=within_s)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        out, err = proc.communicate(timeout=30)
        raise AssertionError(f"rig run still running {within_s:g} s after the signal "
                             f"{context}:\n{out[-2000:]}\n{err[-6000:]}") from None


def test_sigterm_of_a_run_switches_the_load_off(sim: EmulatedBench, tmp_path: Path) -> None:
    proc = run_until_load_on(sim, tmp_path)
    try:
        proc.send_signal(signal.SIGTERM)
        out, err = ended(proc)
        assert proc.returncode == 130, out + err
    finally:
        if proc.poll() is None:
            proc.kill()
    assert sim.world.load.input_on is False
    (run_dir,) = tmp_path.glob("prepaid-cycle-*")
    assert '"outcome": "error"' in (run_dir / "report.json").read_text()
