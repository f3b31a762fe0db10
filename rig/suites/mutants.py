"""The mutant campaign: the certification suite run against meters that each carry one known
defect (rig.sim.defects), and the kill matrix it yields.

Each run is the certification suite itself (`pytest --pyargs rig.suites.certification`) in
its own process (forked by a warm worker per bench slot, rig.suites.mutant_worker), on its own
emulated bench whose config names the defect, with its own certification record; runs go in
parallel, `jobs` at a time. The reference meter runs in the same pool: a scenario that fails
on it, and again when run on it alone, judges nothing, and the campaign says so instead of
counting its failures as kills.

A mutant runs its own requirement's scenario first and stops at its first kill (`pytest -x`
over the suite's tests in that order): the score needs one kill, and most of a campaign's
time was scenarios run on mutants already dead. The scenarios after the kill are
`not run after kill`, honestly, never counted as kills or survivals; `full=True` runs every
scenario on every mutant (the whole matrix).

A cell of the matrix is `killed` (the test failed or errored on the mutant), `survived` (it
passed), `not applicable` (the model lacks the capability the test needs, or the test recorded
that its requirement does not apply to the meter's card format), `not run after
kill` or `not run` (a sample run that ran only the defect's own requirement). The mutation
score is killed / (killed + survived) over the mutants, a mutant counting as killed when any
test kills it.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import os
import queue
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rig.profile import MeterProfile
from rig.sim.defects import Defect, applicable
from rig.suites.mutant_worker import Worker

REFERENCE = "reference"  # the meter without a defect
KILLED, SURVIVED, NOT_APPLICABLE, NOT_RUN = "killed", "survived", "not applicable", "not run"
AFTER_KILL = "not run after kill"
INTERRUPTED = 2  # pytest's exit code for a run stopped by Ctrl-C
_CELL = {"fail": KILLED, "error": KILLED, "pass": SURVIVED, "skipped": NOT_APPLICABLE}
TIME_SCALE = 36000.0  # the certification suite's emulated time scale


@dataclass
class MutantRun:
    """One certification run: the reference meter or one mutant."""

    defect: str
    requirement: str  # the requirement that must kill it ("" for the reference)
    what: str
    outcomes: dict[str, str] = field(default_factory=dict)  # requirement -> pass/fail/...
    messages: dict[str, str] = field(default_factory=dict)
    record: str = ""  # its record.json
    error: str = ""  # the run itself failed (usage error, crash): nothing was judged
    stopped_at_kill: bool = False  # the run stopped at its first kill (-x)
    wall_s: float = 0.0  # the run's own wall time
    cpu_s: float = 0.0  # and its processes' CPU time (user + system)

    def cell(self, requirement: str) -> str:
        outcome = self.outcomes.get(requirement)
        if outcome is None:
            return AFTER_KILL if self.stopped_at_kill and self.killed else NOT_RUN
        return _CELL.get(outcome, KILLED)

    @property
    def killed(self) -> bool:
        return any(self.cell(r) == KILLED for r in self.outcomes)


@dataclass
class KillMatrix:
    """Mutant x scenario for one profile, with the reference run that validates it."""

    profile: str
    reference: MutantRun
    mutants: list[MutantRun]
    wall_s: float = 0.0
    cpu_s: float = 0.0  # CPU time of every run's processes (user + system)
    recheck: MutantRun | None = None  # the reference's failed scenarios, run again alone

    @property
    def scenarios(self) -> list[str]:
        return sorted(self.reference.outcomes)

    @property
    def broken(self) -> list[str]:
        """Scenarios that fail on the reference meter (and on its recheck, where one ran):
        they judge nothing."""
        failed = [r for r, o in sorted(self.reference.outcomes.items()) if o in ("fail", "error")]
        if self.recheck is None or self.recheck.error:
            return failed
        return [r for r in failed if self.recheck.outcomes.get(r) != "pass"]

    @property
    def killed(self) -> list[str]:
        return [m.defect for m in self.mutants if m.killed]

    @property
    def survived(self) -> list[str]:
        return [m.defect for m in self.mutants if not m.killed]

    @property
    def score(self) -> float:
        return len(self.killed) / len(self.mutants) if self.mutants else 0.0

    def killing_none(self) -> list[str]:
        """Scenarios (that ran on some mutant) that killed no mutant."""
        ran = {r for m in self.mutants for r, o in m.outcomes.items() if o != "skipped"}
        return [r for r in self.scenarios if r in ran and r not in self.broken
                and not any(m.cell(r) == KILLED for m in self.mutants)]

    def missed_own(self) -> list[str]:
        """Mutants that their own requirement's scenario did not kill (a weak scenario)."""
        return [m.defect for m in self.mutants
                if m.requirement in self.reference.outcomes
                and m.cell(m.requirement) not in (KILLED, NOT_APPLICABLE)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "scenarios": self.scenarios,
            "reference": {"outcomes": self.reference.outcomes, "record": self.reference.record,
                          "error": self.reference.error or None,
                          "wall_s": round(self.reference.wall_s, 2),
                          "cpu_s": round(self.reference.cpu_s, 2)},
            "scenarios_failing_on_reference": self.broken,
            "reference_recheck": None if self.recheck is None else {
                "outcomes": self.recheck.outcomes, "record": self.recheck.record,
                "error": self.recheck.error or None, "wall_s": round(self.recheck.wall_s, 2),
                "cpu_s": round(self.recheck.cpu_s, 2)},
            "mutants": [{"defect": m.defect, "requirement": m.requirement, "what": m.what,
                         "killed": m.killed, "error": m.error or None, "record": m.record,
                         "wall_s": round(m.wall_s, 2), "cpu_s": round(m.cpu_s, 2),
                         "cells": {r: m.cell(r) for r in self.scenarios},
                         "messages": m.messages} for m in self.mutants],
            "killed": self.killed,
            "survived": self.survived,
            "mutation_score": round(self.score, 4),
            "own_requirement_missed": self.missed_own(),
            "scenarios_killing_none": self.killing_none(),
            "wall_s": round(self.wall_s, 1),
            "cpu_s": round(self.cpu_s, 1),
        }


# A certification run loads only the plugins the suite uses: the others' start-up and
# hypothesis's terminal summary (which imports hypothesis) were a third of a short run's CPU.
# Without pytest's logging plugin too: the suite records through its own RunRecord, and
# the plugin's walk of the logger registry costs start-up time for nothing.
_LEAN_PYTEST = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
_PLUGINS = ("-p", "rig.pytest_plugin", "-p", "allure_pytest.plugin", "-p", "no:logging")


def selector(requirement: str) -> str:
    """The pytest -k expression selecting one requirement's test."""
    return f"test_{requirement.replace(' ', '_')}"


def suite_file() -> Path:
    """The certification suite's test module (collected by path, so its order is ours)."""
    spec = importlib.util.find_spec("rig.suites.certification")
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).with_name("test_certification.py")


def suite_requirements() -> list[str]:
    """Every requirement the suite certifies, in the suite's own order."""
    names = re.findall(r"^def test_(\w+)\(", suite_file().read_text("utf-8"), re.M)
    return [n.replace("_", " ") for n in names]


def _ordered_tests(first: str) -> list[str]:
    """The suite's tests as node ids, `first`'s test first and the rest in suite order."""
    path = suite_file()
    order = sorted(suite_requirements(), key=lambda r: r != first)
    return [f"{path}::{selector(r)}" for r in order]


def select_defects(profile: MeterProfile, select: str | None) -> list[Defect]:
    """The mutants of `profile` whose names match `select`: comma-separated names or shell
    patterns (``cutoff-*,replay-applied-again``); every applicable one without it."""
    chosen = applicable(profile)
    if not select:
        return chosen
    patterns = [p.strip() for p in select.split(",") if p.strip()]
    return [d for d in chosen if any(fnmatch.fnmatchcase(d.name, p) for p in patterns)]


def _bench_toml(profile: MeterProfile, defect: str | None, profiles_dir: Path | None) -> str:
    lines = ['kind = "emulated"', f"time_scale = {TIME_SCALE}"]
    if defect is not None:
        lines.append(f'defect = "{defect}"')
    if profiles_dir is not None:
        lines.append(f"profiles_dir = {json.dumps(str(profiles_dir.resolve()))}")
    return "\n".join(lines) + "\n"


def _judged(record: Path) -> bool:
    """The run wrote a record with at least one test in it."""
    return record.is_file() and bool(json.loads(record.read_text("utf-8")).get("tests"))


def _recorded_not_applicable(test: dict[str, Any]) -> bool:
    """A test that passed by recording that its requirement does not apply to the meter's card
    format (a forgery it cannot resist, a card kind it lacks): not applicable, as a skip is,
    never a survival."""
    return test["outcome"] == "pass" and any(
        str(m.get("value", "")).startswith("not applicable") for m in test.get("measurements", []))


def run_certification(profile: MeterProfile, defect: Defect | None, out: Path, *,
                      only: Iterable[str] | None = None,
                      profiles_dir: Path | None = None,
                      stop_at_kill: bool = False, worker: Worker | None = None) -> MutantRun:
    """The certification suite on one (mutant) meter, in its own process (a child forked by
    `worker`, else a new interpreter); its record in `out`. `stop_at_kill`: the defect's own
    requirement first, and stop at the first test that fails (the rest are `not run after
    kill`)."""
    run = MutantRun(defect.name if defect else REFERENCE,
                    defect.requirement if defect else "", defect.what if defect else "")
    out.mkdir(parents=True, exist_ok=True)
    bench = out / "bench.toml"
    bench.write_text(_bench_toml(profile, defect.name if defect else None, profiles_dir),
                     "utf-8")
    ini = Path(__file__).with_name("suite.ini")
    ordered = stop_at_kill and defect is not None and not only
    target = (_ordered_tests(defect.requirement) if ordered and defect is not None
              else ["--pyargs", "rig.suites.certification"])
    args = [*target, *_PLUGINS, "-c", str(ini),
            "--rootdir", str(out),
            "-q", "-p", "no:cacheprovider",
            "-p", "no:randomly", "--no-header", "--tb=no",
            "--bench", str(bench), "--meter-profile", str(profile.source or profile.name),
            "--cert-dir", str(out)]
    chosen = sorted(set(only or ()))
    if chosen:
        args += ["-k", " or ".join(selector(r) for r in chosen)]
    if ordered:
        args.append("--exitfirst")
        run.stopped_at_kill = True
    log = out / "pytest.log"
    started = time.monotonic()
    for _attempt in range(2):  # a run that crashed before judging anything is run again
        code, cpu_s = _pytest(args, out, log, worker)
        run.cpu_s += cpu_s
        if _judged(out / "record.json") or code == INTERRUPTED:
            break
    run.wall_s = time.monotonic() - started
    if code == INTERRUPTED:  # Ctrl-C: the test stopped, the meter was not judged
        run.error = "the run was interrupted (Ctrl-C): nothing judged"
        return run
    record = out / "record.json"
    if not record.is_file():
        run.error = f"certification run wrote no record (exit {code}): " + _tail(log)
        return run
    run.record = str(record)
    tests = json.loads(record.read_text("utf-8"))["tests"]
    if not tests:
        run.error = "the certification run collected no test: " + _tail(log)
    for test in tests:
        run.outcomes[test["requirement"]] = "skipped" if _recorded_not_applicable(test) \
            else test["outcome"]
        if test.get("message"):
            run.messages[test["requirement"]] = str(test["message"])[:300]
    return run


def _pytest(args: list[str], out: Path, log: Path, worker: Worker | None) -> tuple[int, float]:
    """pytest `args` in `out` with its own TMPDIR: in a child of the warm `worker`, or (no
    worker, or it is gone) in a new interpreter. Its output goes to `log`; returns its exit
    code and CPU seconds (user + system, the process and its children)."""
    with tempfile.TemporaryDirectory(prefix="rig-mutant-") as tmp:
        env = {**os.environ, "TMPDIR": tmp, **_LEAN_PYTEST}
        done = worker.run(args, out, env, log) if worker is not None else None
        if done is None:
            with log.open("wb") as sink:
                proc = subprocess.Popen([sys.executable, "-m", "pytest", *args], cwd=out,
                                        stdout=sink, stderr=subprocess.STDOUT, env=env,
                                        stdin=subprocess.DEVNULL)
                _, status, usage = os.wait4(proc.pid, 0)  # its own CPU, whatever runs beside
                proc.returncode = os.waitstatus_to_exitcode(status)
            done = proc.returncode, usage.ru_utime + usage.ru_stime
    return done


def _tail(log: Path) -> str:
    text = log.read_text("utf-8", errors="replace") if log.is_file() else ""
    return " | ".join(text.strip().splitlines()[-3:])


def run_campaign(profile: MeterProfile, out: Path, *, jobs: int = 2,
                 defects: Iterable[Defect] | None = None, own_only: bool = False,
                 full: bool = False, profiles_dir: Path | None = None,
                 progress: Callable[[MutantRun], None] | None = None,
                 warm: bool = True) -> KillMatrix:
    """Run the reference meter and every mutant, `jobs` benches at a time.

    Each mutant runs its own requirement's scenario first and stops at its first kill;
    `full`: every scenario on every mutant (the whole matrix, several times slower);
    `own_only`: each mutant runs only the scenario of its own requirement (a fast sample; the
    other cells are `not run`). The reference run, the longest, goes first into the same
    pool rather than alone before it (it judges the scenarios once all runs are in, so it need
    not hold the other bench idle); a scenario that failed on it runs on it again alone
    (`_recheck`). `warm`: each bench slot is a warm worker forking a child per run
    (rig.suites.mutant_worker); `warm=False` starts a new interpreter per run.
    """
    started = time.monotonic()
    cpu_before = _children_cpu_s()
    chosen = list(defects) if defects is not None else applicable(profile)
    slots = max(1, jobs)
    workers: queue.Queue[Worker | None] = queue.Queue()

    def one(d: Defect | None) -> MutantRun:
        worker = workers.get()
        try:
            if d is None:
                run = run_certification(
                    profile, None, out / REFERENCE, profiles_dir=profiles_dir, worker=worker,
                    only={m.requirement for m in chosen} if own_only else None)
            else:
                run = run_certification(profile, d, out / d.name, profiles_dir=profiles_dir,
                                        only={d.requirement} if own_only else None,
                                        stop_at_kill=not full, worker=worker)
        finally:
            workers.put(worker)
        if progress:
            progress(run)
        return run

    pool = ThreadPoolExecutor(max_workers=slots)
    try:
        for w in pool.map(lambda _: Worker() if warm else None, range(slots)):
            workers.put(w)
        reference, *mutants = list(pool.map(one, [None, *chosen]))
        recheck = _recheck(profile, reference, out, profiles_dir, workers)
    finally:  # Ctrl-C: the runs under way stop on it themselves, the queued ones never start
        pool.shutdown(wait=True, cancel_futures=True)
        while not workers.empty():
            w = workers.get()
            if w is not None:
                w.close()
    matrix = KillMatrix(profile.name, reference, mutants, time.monotonic() - started,
                        cpu_s=_children_cpu_s() - cpu_before, recheck=recheck)
    write_matrix(matrix, out)
    return matrix


def _recheck(profile: MeterProfile, reference: MutantRun, out: Path,
             profiles_dir: Path | None, workers: queue.Queue[Worker | None]) -> MutantRun | None:
    """The scenarios that failed on the reference meter, run on it once more with nothing else
    of the campaign running (None when none failed). The reference shares the pool with the
    mutants; on a loaded machine a timing scenario can fail there for the machine's sake. One
    that passes alone judges the mutants; one that fails again judges nothing. Both runs are
    in the matrix (`reference`, `reference_recheck`)."""
    failed = {r for r, o in reference.outcomes.items() if o in ("fail", "error")}
    if not failed or reference.error:
        return None
    worker = workers.get()
    try:
        return run_certification(profile, None, out / f"{REFERENCE}-recheck", only=failed,
                                 profiles_dir=profiles_dir, worker=worker)
    finally:
        workers.put(worker)


def _children_cpu_s() -> float:
    """CPU seconds (user + system) of this process's finished children and theirs: the
    benches, pytest and the workers, once they are waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def write_matrix(matrix: KillMatrix, out: Path) -> Path:
    """kill-matrix.json, and the reference run's record.json with the matrix in it."""
    data = matrix.to_dict()
    path = out / "kill-matrix.json"
    path.write_text(json.dumps(data, indent=2) + "\n", "utf-8")
    if matrix.reference.record:
        record = json.loads(Path(matrix.reference.record).read_text("utf-8"))
        record["kill_matrix"] = data
        (out / "record.json").write_text(json.dumps(record, indent=2) + "\n", "utf-8")
    return path
