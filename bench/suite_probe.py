"""pytest plugin for bench/suite.py: where a certification test's wall time goes.

Loaded with ``-p suite_probe`` (bench/ on PYTHONPATH). It times, per test and from outside
the code it measures (wrappers, no change to rig): the simulated waits — real time spent
letting bench time pass (``BenchSteps.wait_until``, ``watch``, ``wait_for``,
``BenchClock.sleep``; outermost call only), the floor a test cannot go below at its time
scale —, the card moves (the courier's moves and the station's wait for pcscd to show the
card), and the emulated bench's start and stop. One JSON line per test goes to
``$RIG_SUITE_PROBE_OUT``. ``python bench/suite_probe.py ARGS…`` runs ``rig ARGS…`` under the
same timers and appends one line for the whole command.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

_local = threading.local()
_totals: dict[str, float] = {}


def _timed(key: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap `fn`: add its wall time to `key`, counting only the outermost timed call."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if getattr(_local, "inside", False):
            return fn(*args, **kwargs)
        _local.inside = True
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            _local.inside = False
            _totals[key] = _totals.get(key, 0.0) + time.perf_counter() - t0
            _totals[f"{key}_n"] = _totals.get(f"{key}_n", 0) + 1

    return wrapper


def pytest_configure(config: pytest.Config) -> None:
    install()


def install() -> None:
    """Wrap the timed functions of rig (once per process)."""
    from rig.bench.courier import EmulatedCourier
    from rig.card.pcsc import PcscReader
    from rig.clock import BenchClock
    from rig.scenarios.steps import BenchSteps
    from rig.sim.emulated_bench import EmulatedBench

    for name in ("wait_until", "watch", "wait_for"):
        setattr(BenchSteps, name, _timed("simulated_wait_s", getattr(BenchSteps, name)))
    BenchClock.sleep = _timed("simulated_wait_s", BenchClock.sleep)  # type: ignore[method-assign]
    EmulatedCourier.move = _timed("card_move_s", EmulatedCourier.move)  # type: ignore[method-assign]
    PcscReader.wait_for_card = _timed("card_wait_s", PcscReader.wait_for_card)  # type: ignore[method-assign]
    EmulatedBench.start = _timed("bench_start_s", EmulatedBench.start)  # type: ignore[method-assign]
    EmulatedBench.stop = _timed("bench_stop_s", EmulatedBench.stop)  # type: ignore[method-assign]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    _totals.clear()
    t0 = time.perf_counter()
    yield
    _write(item.nodeid, time.perf_counter() - t0)


def _write(what: str, wall: float) -> None:
    out = os.environ.get("RIG_SUITE_PROBE_OUT")
    if out:
        with open(out, "a", encoding="utf-8") as f:
            f.write(json.dumps({"test": what, "wall_s": wall, **_totals}) + "\n")


if __name__ == "__main__":  # rig ARGS under the timers (the caller times the whole process)
    install()
    atexit.register(lambda: _write("rig " + " ".join(sys.argv[1:]), 0.0))
    from rig.cli.main import app

    app(sys.argv[1:], prog_name="rig")
