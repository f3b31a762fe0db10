"""The mutant campaign's warm worker (rig.suites.mutant_worker): each run a fresh child that
becomes the run (folder, environment, output, exit code), and nothing one run changes in the
shared, pre-imported modules reaches the next."""

from __future__ import annotations

import os
from pathlib import Path

from rig.suites.mutant_worker import Worker, suite_imports

PROBE = '''
import os
import rig.sim.defects as catalogue


def test_the_run_is_its_own():
    assert os.environ["RIG_PROBE"] == "{tag}"
    assert os.getcwd() == {cwd!r}
    assert "leaked-by-an-earlier-run" not in catalogue.DEFECTS  # a warm module, untouched
    catalogue.DEFECTS["leaked-by-an-earlier-run"] = None  # changed in this child only
    print("pid", os.getpid())
    assert {passes}
'''


def _run(worker: Worker, folder: Path, tag: str, passes: bool) -> tuple[int, float, str]:
    folder.mkdir()
    (folder / "test_probe.py").write_text(
        PROBE.format(tag=tag, cwd=str(folder), passes=passes), "utf-8")
    log = folder / "pytest.log"
    env = {**os.environ, "RIG_PROBE": tag, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    done = worker.run(["-q", "-s", "-p", "no:cacheprovider", "test_probe.py"], folder, env, log)
    assert done is not None, "the worker is gone"
    return done[0], done[1], log.read_text("utf-8")


def test_each_run_is_a_fresh_child_of_the_warm_worker(tmp_path: Path) -> None:
    worker = Worker()
    try:
        assert worker.ready  # forking is safe: no import started a thread
        first = _run(worker, tmp_path / "a", "first", passes=True)
        second = _run(worker, tmp_path / "b", "second", passes=False)
        third = _run(worker, tmp_path / "c", "third", passes=True)
    finally:
        worker.close()
    assert [first[0], second[0], third[0]] == [0, 1, 0]  # pytest's exit code, per run
    assert "1 passed" in first[2] and "1 failed" in second[2] and "1 passed" in third[2]
    pids = {log.split("pid ", 1)[1].split()[0] for _, _, log in (first, second, third)}
    assert len(pids) == 3 and str(worker.proc.pid) not in pids  # a new process each time
    assert all(cpu > 0 for _, cpu, _ in (first, second, third))  # its own CPU, from wait4
    assert worker.proc.returncode == 0  # closed cleanly once stdin ended


def test_worker_warms_what_the_certification_suite_imports() -> None:
    names = suite_imports()
    assert "rig.scenarios.steps" in names and "rig.bench.bench" in names
    assert not any(n.startswith("rig.suites.certification") for n in names)  # left to pytest
