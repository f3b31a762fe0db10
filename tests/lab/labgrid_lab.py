"""A lab on loopback for tests and benchmarks: a labgrid coordinator and bench hosts
(`rig lab host`, each with its own labgrid exporter and ser2net), every one a child process
group of its own that is killed when the block ends."""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.lab.service import child_env

# 8 places need 8 free vpcd reader slots; CI runs RIG_LAB_PLACES=8 (docs/lab.md).
PLACES = int(os.environ.get("RIG_LAB_PLACES", "4"))


def require_labgrid() -> None:
    """labgrid and ser2net, as ./setup.sh installs them: skipped without, failed under CI."""
    missing = [what for what, there in (
        ("labgrid (pip install 'rig[lab]')", shutil.which("labgrid-coordinator",
                                                          path=str(Path(sys.executable).parent))),
        ("ser2net (apt-get install ser2net)", shutil.which("ser2net")
         or Path("/usr/sbin/ser2net").exists())) if not there]
    if missing:
        why = f"a lab needs {' and '.join(missing)}: run ./setup.sh"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)


@dataclass
class Host:
    name: str
    proc: subprocess.Popen[str]
    places: list[str]
    loads: dict[str, str]  # place -> VISA resource of its load
    exporter_pid: int


@dataclass
class Lab:
    coordinator: str
    hosts: list[Host]
    workdir: Path

    @property
    def places(self) -> list[str]:
        return [p for h in self.hosts for p in h.places]

    def host_of(self, place: str) -> Host:
        return next(h for h in self.hosts if place in h.places)

    def env(self, user: str = "ci") -> dict[str, str]:
        """A job's environment: this coordinator, and `user` as labgrid names it."""
        return child_env() | {"LG_COORDINATOR": self.coordinator, "LG_USERNAME": user,
                              "LG_HOSTNAME": f"{user}-runner"}

    def coordinator_log(self) -> str:
        return (self.workdir / "coordinator.log").read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_group(proc: subprocess.Popen[str], grace_s: float = 20.0) -> None:
    """SIGTERM the process group `proc` leads, then SIGKILL what is left of it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(grace_s)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _first_line(proc: subprocess.Popen[str], timeout_s: float, log: Path) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout_s)
    line = proc.stdout.readline() if ready else ""
    if not line:
        raise RuntimeError(f"{proc.args} said nothing in {timeout_s:g} s (exit "
                           f"{proc.poll()}): {log.read_text(errors='replace')[-2000:]}")
    return line


@contextlib.contextmanager
def labgrid_lab(workdir: Path, places: int, hosts: int = 2,
                time_scale: float = 36000.0) -> Iterator[Lab]:
    """A coordinator on a free loopback port and `hosts` bench hosts sharing `places`
    emulated places (bench-01, bench-02, ...) round-robin."""
    require_labgrid()
    address = f"127.0.0.1:{free_port()}"
    (workdir / "coordinator").mkdir(parents=True, exist_ok=True)
    started: list[subprocess.Popen[str]] = []
    try:
        with (workdir / "coordinator.log").open("w") as log:
            started.append(subprocess.Popen(
                [str(Path(sys.executable).with_name("labgrid-coordinator")), "--listen",
                 address], cwd=workdir / "coordinator", stdout=log, stderr=subprocess.STDOUT,
                text=True, start_new_session=True, env=child_env() | {"PYTHONUNBUFFERED": "1"}))
        names = [f"bench-{i:02d}" for i in range(1, places + 1)]
        lab = Lab(address, [], workdir)
        for k in range(hosts):
            name = f"host-{chr(ord('a') + k)}"
            mine = names[k::hosts]
            err = workdir / f"{name}.err"
            with err.open("w") as log:
                proc = subprocess.Popen(
                    [sys.executable, "-c", "from rig.cli.main import app; app()", "lab", "host",
                     *(a for p in mine for a in ("--emulated", p)), "--coordinator", address,
                     "--name", name, "--hostname", "127.0.0.1", "--time-scale",
                     str(time_scale), "--workdir", str(workdir / name), "--json"],
                    env=child_env(), stdout=subprocess.PIPE, stderr=log, text=True,
                    start_new_session=True)
            started.append(proc)
            described = json.loads(_first_line(proc, 180, err))
            lab.hosts.append(Host(name, proc, mine, described["loads"],
                                  int(described["exporter_pid"])))
        yield lab
    finally:
        for proc in reversed(started):
            stop_group(proc)


def load_input_on(resource: str) -> bool:
    """The load's input state, asked on a session of our own (raw SCPI, `INP?`)."""
    _, host, port, _ = resource.split("::")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(b"INP?\n")
        reply = s.makefile("r").readline().strip().upper()
    return reply in ("1", "ON")


def wait_until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll `check` until true; a refused connection counts as not yet (an emulated place
    rebinds its load's port when a job arrives)."""
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(ConnectionRefusedError):
            if check():
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {timeout_s:g} s")
        time.sleep(0.2)
