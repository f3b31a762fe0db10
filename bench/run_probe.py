"""`rig ARGS…` under timers that split its wall time, for bench/suite.py's `rig run` row.

``python bench/run_probe.py run --time-scale 1000000 …`` runs the command in this process and,
at exit, appends one JSON line to ``$RIG_SUITE_PROBE_OUT``: the main thread's time in each
part, exclusive (a part nested in another counts for itself only, so the parts add up):

- ``imports_s``: loading modules (every import statement and ``import_module``);
- ``simulated_wait_s``: letting bench time pass (``BenchSteps.wait_until``, ``watch``,
  ``wait_for``, ``BenchClock.sleep``): the floor at this time scale;
- ``bench_start_s`` / ``bench_stop_s``: the emulated bench's ``start()`` / ``stop()``;
  ``bench_open_s`` / ``bench_close_s``: the rest of ``open_bench`` (instruments, safe state);
- ``billing_open_s``: the run's billing centre opened (database made ready);
- ``cycle_s``: the prepaid cycle's own work, of which ``receipt_s`` the printed receipt;
- ``report_s``: the report written;
- ``main_s``: from this probe's start to the command's end (what is not in a part above is
  the command line, the configuration and the profile).

Nothing in rig is changed: the timers wrap functions as their modules are imported (so the
order of imports stays the command's own), and the import timer wraps importlib's
``_find_and_load``, which the interpreter calls for every import it cannot find in
``sys.modules``. No pytest is imported here: the row measures rig's own start-up.
"""

from __future__ import annotations

import _frozen_importlib  # type: ignore[import-not-found]
import atexit
import contextlib
import functools
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

_T0 = time.perf_counter()
_MAIN = threading.main_thread()
_totals: dict[str, float] = {}
_stack: list[list[Any]] = []  # [key, start, time of nested parts], main thread only


def _enter(key: str) -> None:
    _stack.append([key, time.perf_counter(), 0.0])


def _leave() -> None:
    key, start, nested = _stack.pop()
    spent = time.perf_counter() - start
    _totals[key] = _totals.get(key, 0.0) + spent - nested
    if _stack:
        _stack[-1][2] += spent


def _part(key: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` with its main-thread time counted under `key` (its nested parts excluded)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread() is not _MAIN:
            return fn(*args, **kwargs)
        _enter(key)
        try:
            return fn(*args, **kwargs)
        finally:
            _leave()

    return wrapper


def _context_part(enter_key: str, exit_key: str,
                  make: Callable[..., Any]) -> Callable[..., Any]:
    """A context-manager factory whose entering and leaving are timed as two parts."""

    @functools.wraps(make)
    @contextlib.contextmanager
    def wrapper(*args: Any, **kwargs: Any) -> Iterator[Any]:
        manager = _part(enter_key, make)(*args, **kwargs)  # connect_billing opens here
        value = _part(enter_key, manager.__enter__)()
        try:
            yield value
        except BaseException:
            if not _part(exit_key, manager.__exit__)(*sys.exc_info()):
                raise
        else:
            _part(exit_key, manager.__exit__)(None, None, None)

    return wrapper


def _patch_steps(module: Any) -> None:
    for name in ("wait_until", "watch", "wait_for"):
        setattr(module.BenchSteps, name,
                _part("simulated_wait_s", getattr(module.BenchSteps, name)))


def _patch_runner(module: Any) -> None:
    module.open_bench = _context_part("bench_open_s", "bench_close_s", module.open_bench)
    module.connect_billing = _context_part("billing_open_s", "billing_close_s",
                                           module.connect_billing)
    module.write_report = _part("report_s", module.write_report)


# module → how to wrap its timed functions, applied once the module is imported
_PATCHES: dict[str, Callable[[Any], None]] = {
    "rig.clock": lambda m: setattr(m.BenchClock, "sleep",
                                   _part("simulated_wait_s", m.BenchClock.sleep)),
    "rig.scenarios.steps": _patch_steps,
    "rig.sim.emulated_bench": lambda m: (
        setattr(m.EmulatedBench, "start", _part("bench_start_s", m.EmulatedBench.start)),
        setattr(m.EmulatedBench, "stop", _part("bench_stop_s", m.EmulatedBench.stop))),
    "rig.scenarios.prepaid_cycle": lambda m: (
        setattr(m.PrepaidCycle, "run", _part("cycle_s", m.PrepaidCycle.run)),
        setattr(m, "attach_printed_receipt", _part("receipt_s", m.attach_printed_receipt))),
    "rig.scenarios.token_cycle": lambda m: setattr(m.TokenCycle, "run",
                                                   _part("cycle_s", m.TokenCycle.run)),
    "rig.scenarios.runner": _patch_runner,
}


def _apply_patches() -> None:
    for name in [n for n in _PATCHES if n in sys.modules]:
        _PATCHES.pop(name)(sys.modules[name])


_find_and_load = _frozen_importlib._find_and_load


def _timed_find_and_load(name: str, import_: Any) -> Any:
    if threading.current_thread() is not _MAIN:
        return _find_and_load(name, import_)
    _enter("imports_s")
    try:
        return _find_and_load(name, import_)
    finally:
        _leave()
        if len(_stack) == 0 or _stack[-1][0] != "imports_s":  # an outermost import ended
            _apply_patches()


def _write() -> None:
    _totals["main_s"] = time.perf_counter() - _T0
    out = os.environ.get("RIG_SUITE_PROBE_OUT")
    if out:
        with open(out, "a", encoding="utf-8") as f:
            f.write(json.dumps({"test": "rig " + " ".join(sys.argv[1:]), **_totals}) + "\n")


if __name__ == "__main__":
    _frozen_importlib._find_and_load = _timed_find_and_load
    atexit.register(_write)
    from rig.cli.main import app

    app(sys.argv[1:], prog_name="rig")
