"""A warm worker for the mutant campaign: one process per bench slot that imports pytest, the
certification suite's plugins and what its tests import once, then forks one child per
certification run.

A short certification run (one mutant, killed by its first scenario) spent most of its CPU
starting: the interpreter, compiling and importing rig, SQLAlchemy, pyscard, allure and pytest
— 1.4–1.7 s of about 2.3 s (docs/certification.md, "Where the campaign's time goes"). A forked
child keeps each run exactly as isolated as a new process: its own process, emulated bench,
vpcd reader, billing database, record and exit code; nothing a run does reaches the worker or
the next run. Only the imports, which no run changes, are shared.

Protocol (JSON lines): the campaign writes ``{"args": [...], "cwd": DIR, "env": {...},
"log": FILE}`` to the worker's stdin; the worker forks, the child runs ``pytest.main(args)``
with its output in FILE, and the worker answers ``{"exit": CODE, "cpu_s": SECONDS}`` (the
child's user + system time) on stdout. The worker
first answers ``{"ready": true}`` once warm, or ``{"ready": false, "why": ...}`` when it
cannot fork safely (a thread started by an import): the campaign then starts a process per
run, as before.
"""

from __future__ import annotations

import ast
import contextlib
import gc
import importlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import traceback
from pathlib import Path
from typing import IO, Any

# What every certification run imports beyond its test module and conftest: the plugins the
# campaign loads (rig.suites.mutants._PLUGINS), the emulated bench a mutant's config opens
# with its defect, and what opening the bench and its database import later (the load through
# pyvisa-py, whose session modules pull in pyusb; pyserial; SQLite's dialect; the JUnit XML).
_WARM = ("pytest", "allure_pytest.plugin", "rig.pytest_plugin", "rig.sim.emulated_bench",
         "rig.sim.defects", "pyvisa_py", "pyvisa_py.highlevel", "pyvisa_py.tcpip",
         "pyvisa_py.serial", "pyvisa_py.usb", "pyvisa_py.prologix", "serial",
         "serial.tools.list_ports", "sqlalchemy.dialects.sqlite", "xml.etree.ElementTree",
         "socketserver")


def suite_imports() -> list[str]:
    """The modules the certification suite's conftest and test module import (read from their
    source, so a new scenario module is warmed without a change here). The two files
    themselves are left to pytest, which imports them with its assertion rewriting."""
    spec = importlib.util.find_spec("rig.suites.certification")
    assert spec is not None and spec.origin is not None
    names: list[str] = []
    for file in ("conftest.py", "test_certification.py"):
        tree = ast.parse(Path(spec.origin).with_name(file).read_text("utf-8"))
        for node in tree.body:
            if isinstance(node, ast.Import):
                names += [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                    and node.module != "__future__":
                names.append(node.module)
                names += [f"{node.module}.{a.name}" for a in node.names]
    return names


def warm() -> None:
    """Import what a certification run needs (a name that is not a module is skipped)."""
    for name in (*_WARM, *suite_imports()):
        with contextlib.suppress(ModuleNotFoundError):  # `from module import name`: no module
            importlib.import_module(name)


def _run_child(job: dict[str, Any]) -> int:
    """In the forked child: become the run (cwd, environment, output) and run pytest."""
    import pytest

    signal.signal(signal.SIGINT, job.get("sigint", signal.default_int_handler))
    os.chdir(job["cwd"])
    os.environ.clear()
    os.environ.update(job["env"])
    tempfile.tempdir = None  # the run's own TMPDIR, not the worker's cached one
    null = os.open(os.devnull, os.O_RDONLY)
    log = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the child's own stdio
    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
    # The plugins were imported warm, before pytest could rewrite their asserts (rig's has
    # none); its warning about that says nothing about the run.
    return int(pytest.main(["-W", "ignore::pytest.PytestAssertRewriteWarning", *job["args"]]))


def serve(requests: IO[str], answers: IO[str], sigint: Any = signal.default_int_handler) -> None:
    """Answer jobs until the campaign closes stdin; each run's Ctrl-C handler is `sigint`."""
    if threading.active_count() > 1:  # a fork would copy a lock some thread holds
        answers.write(json.dumps({"ready": False, "why": "an import started a thread"}) + "\n")
        answers.flush()
        return
    answers.write(json.dumps({"ready": True}) + "\n")
    answers.flush()
    for line in requests:
        job = {**json.loads(line), "sigint": sigint}
        pid = os.fork()
        if pid == 0:  # the child never returns into this loop
            code = 3
            try:
                code = _run_child(job)
            except BaseException:  # said in the run's log, then exit 3
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        _, status, usage = os.wait4(pid, 0)
        answers.write(json.dumps({"exit": os.waitstatus_to_exitcode(status),
                                  "cpu_s": usage.ru_utime + usage.ru_stime}) + "\n")
        answers.flush()


class Worker:
    """The campaign's handle on one warm worker process (one per bench slot)."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rig.suites.mutant_worker"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True, env={**os.environ,
                                                    "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
        assert self.proc.stdout is not None
        try:
            self.ready = bool(json.loads(self.proc.stdout.readline()).get("ready"))
        except ValueError:  # it died warming up: the campaign starts interpreters instead
            self.ready = False

    def run(self, args: list[str], cwd: Path, env: dict[str, str],
            log: Path) -> tuple[int, float] | None:
        """pytest `args` in a fresh child: its exit code and CPU seconds, or None if the
        worker is gone."""
        if not self.ready or self.proc.poll() is not None:
            return None
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(json.dumps({"args": args, "cwd": str(cwd), "env": env,
                                              "log": str(log)}) + "\n")
            self.proc.stdin.flush()
            answer = self.proc.stdout.readline()
        except (BrokenPipeError, OSError):
            return None
        if not answer:
            return None
        done = json.loads(answer)
        return int(done["exit"]), float(done["cpu_s"])

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def main() -> None:
    # Ctrl-C reaches the whole process group: each run stops itself and leaves its bench safe
    # (pytest's KeyboardInterrupt), and the worker ends when the campaign closes its stdin. A
    # run gets the campaign's own disposition (a campaign started with Ctrl-C ignored, as a
    # background job is, has runs that ignore it too, as new interpreters would).
    inherited = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The answers go on a copy of stdout; anything an import prints goes to stderr instead.
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    warm()
    # The imported modules' objects never die: moved out of the collector's sight, a child's
    # collections skip them (pytest collects garbage several times as it ends, which over the
    # whole imported heap cost ~0.3 s of CPU a run) and leave their memory pages shared with
    # the worker instead of copied.
    gc.freeze()
    serve(sys.stdin, answers, inherited)


if __name__ == "__main__":
    main()
