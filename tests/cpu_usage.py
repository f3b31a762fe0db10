"""CPU time per test, to find where the suite's time goes on a shared machine.

The suite's workers are CPU-bound, so its wall time follows its total CPU time; wall time per
test is noise when other jobs share the cores. With ``RIG_TEST_CPU=PATH`` (the root
conftest.py registers this plugin) every test's process CPU time — user + system of the
worker itself and of the child processes it waited for (``getrusage`` SELF + CHILDREN) — is
recorded per phase (setup, call, teardown) beside the wall time (a test far slower than its
CPU waits: on a sleep, a server, or a busy machine), and the controller writes PATH: a table
of every test, most CPU first, then the same summed per test file, after each process's whole
CPU time (start-up, imports and collection are the part outside the tests). Servers the
tests talk to (pcscd, PostgreSQL) are other processes and not counted here.
"""

from __future__ import annotations

import json
import os
import resource
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

ENV = "RIG_TEST_CPU"
_PHASES = ("setup", "call", "teardown")


def _cpu_now(children: bool = True) -> float:
    """Seconds of CPU used so far by this process and (by default) its reaped children."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)[:2 if children else 1]:
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


class CpuUsage:
    """Records each test phase's CPU seconds; xdist workers hand theirs to the controller."""

    def __init__(self, table: Path) -> None:
        self.table = table
        self.rows: dict[str, dict[str, float]] = defaultdict(dict)
        self.processes: dict[str, float] = {}  # process → its whole CPU time

    def _measure(self, item: pytest.Item, phase: str) -> Iterator[None]:
        start, started = _cpu_now(), time.perf_counter()
        try:
            yield
        finally:
            row = self.rows[item.nodeid]
            row[phase] = _cpu_now() - start
            row["wall"] = row.get("wall", 0.0) + time.perf_counter() - started

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Iterator[None]:
        return (yield from self._measure(item, "setup"))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Iterator[None]:
        return (yield from self._measure(item, "call"))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Iterator[None]:
        return (yield from self._measure(item, "teardown"))

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """A worker hands its rows to the controller (xdist's workeroutput); the controller,
        or a run without xdist, writes the table."""
        workeroutput = getattr(session.config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput[ENV] = json.dumps({"rows": self.rows, "cpu": _cpu_now()})
            return
        # the controller's own CPU: its children are the workers, counted above
        self.processes["main"] = _cpu_now(children=not self.processes)
        self.table.write_text(_table(self.rows, self.processes), "utf-8")

    @pytest.hookimpl(optionalhook=True)  # an xdist hook
    def pytest_testnodedown(self, node: object, error: object) -> None:
        output = getattr(node, "workeroutput", {}).get(ENV)
        if output:
            part = json.loads(output)
            self.rows.update(part["rows"])
            worker: str = node.gateway.id  # type: ignore[attr-defined]
            self.processes[worker] = part["cpu"]


def _table(rows: dict[str, dict[str, float]], processes: dict[str, float]) -> str:
    """Every test, most CPU first, then per file; seconds with two decimals."""
    def total(phases: dict[str, float]) -> float:
        return sum(phases.get(p, 0.0) for p in _PHASES)

    in_tests = sum(total(p) for p in rows.values())
    lines = [f"# CPU seconds per test (worker + waited-for children); {len(rows)} tests, "
             f"{in_tests:.1f} s in all",
             "# whole processes: " + ", ".join(f"{k} {v:.1f} s" for k, v in processes.items())
             + f"; outside the tests {sum(processes.values()) - in_tests:.1f} s",
             "total\tsetup\tcall\tteardown\twall\ttest"]
    for nodeid, phases in sorted(rows.items(), key=lambda kv: -total(kv[1])):
        lines.append("\t".join([f"{total(phases):.2f}",
                                *(f"{phases.get(p, 0.0):.2f}" for p in (*_PHASES, "wall")),
                                nodeid]))
    per_file: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    for nodeid, phases in rows.items():
        entry = per_file[nodeid.split("::")[0]]
        entry[0] += total(phases)
        entry[1] += 1
    lines += ["", "# per file", "total\ttests\tfile"]
    for path, (seconds, count) in sorted(per_file.items(), key=lambda kv: -kv[1][0]):
        lines.append(f"{seconds:.2f}\t{count:.0f}\t{path}")
    return "\n".join(lines) + "\n"


def register(config: pytest.Config) -> None:
    """Record CPU per test when $RIG_TEST_CPU names the table to write."""
    target = os.environ.get(ENV)
    if target:
        config.pluginmanager.register(CpuUsage(Path(target).resolve()), "rig-test-cpu")
