"""A bench host: its benches served as lab places through a labgrid exporter (`rig lab host`).

The host starts its emulated benches (`EmulatedPlace`), writes the exporter's resource file
(one group per place, named like the place), makes sure the coordinator has each place with
its tags and a match on that group, and runs `labgrid-exporter` as a child in its own process
group. An exporter that dies (crash, OOM, `kill`) takes its ser2net children with it — the
host kills the group — and is started again after `restart_s`, as systemd's
`Restart=always` would; its places come back to the coordinator with fresh ser2net ports.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from rig.errors import RigError
from rig.lab.coordinator import LabClient
from rig.lab.emulated_place import EmulatedPlace
from rig.profile import MeterProfile

log = logging.getLogger(__name__)


START_ATTEMPTS = 3  # an exporter that dies while starting is started again, this often

def place_tags(name: str, profile: MeterProfile, kind: str) -> dict[str, str]:
    """What a place can certify, as labgrid tags a reservation filters on (`rig run --place
    profile=dlt645-1p-money`): the place itself, meter profile, protocol, credit unit, card
    format (application version and key revision) and real or emulated."""
    return {
        "rig_place": name,
        "profile": profile.name,
        "protocol": profile.protocol.kind.split("-")[0],
        "credit": profile.credit.unit,
        "card_format": f"app{profile.card.application_version}_key{profile.card.key_revision}",
        "bench": kind,
    }


def exporter_binary() -> str:
    beside = Path(sys.executable).with_name("labgrid-exporter")
    found = str(beside) if beside.exists() else shutil.which("labgrid-exporter")
    if found is None:
        raise RigError("labgrid-exporter is not installed: pip install 'rig[lab]'")
    return found


def _terminate_with_parent() -> None:
    """In the exporter's child: SIGTERM it when the bench host dies, even by SIGKILL (Linux
    PR_SET_PDEATHSIG), so no exporter outlives its host."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class BenchHost:
    """The places of one bench host and the exporter serving them."""

    def __init__(self, places: list[EmulatedPlace], *, coordinator: str, name: str,
                 hostname: str, workdir: Path, restart_s: float = 1.0) -> None:
        self.places = places
        self.coordinator = coordinator
        self.name = name
        self.hostname = hostname
        self.workdir = workdir
        self.restart_s = restart_s
        self.resource_file = workdir / f"exporter-{name}.yaml"
        self.log_file = workdir / f"exporter-{name}.log"
        self._exporter: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._watch = threading.Thread(target=self._keep_exporter, name="exporter-watch",
                                       daemon=True)
        self.exporter_starts = 0

    def start(self) -> BenchHost:
        try:
            for place in self.places:
                place.start()
            groups = {p.name: p.resources() for p in self.places}
            # YAML is a superset of JSON: the exporter reads this as its resource file.
            self.resource_file.write_text(json.dumps(groups, indent=2) + "\n")
            with LabClient(self.coordinator) as lab:
                for p in self.places:
                    lab.ensure_place(p.name, self.name, place_tags(p.name, p.profile,
                                                                   "emulated"))
            self._start_exporter()
            self.wait_exported()
            self._watch.start()
        except BaseException:
            self.stop()
            raise
        return self

    def wait_exported(self, timeout_s: float = 60.0) -> None:
        """Block until the coordinator lists every place's resources from our exporter."""
        wanted = {p.name for p in self.places}
        deadline = time.monotonic() + timeout_s
        with LabClient(self.coordinator) as lab:
            while not wanted <= lab.exported_groups(self.name):
                if self._exporter is not None and self._exporter.poll() is not None:
                    if self.exporter_starts >= START_ATTEMPTS:
                        raise RigError(f"labgrid-exporter {self.name} exited with "
                                       f"{self._exporter.returncode} ({self.exporter_starts} "
                                       f"starts): see {self.log_file}")
                    log.warning("exporter %s exited with %s while starting; starting it "
                                "again", self.name, self._exporter.returncode)
                    self._kill_exporter_group()
                    self._start_exporter()
                if time.monotonic() > deadline:
                    raise RigError(f"exporter {self.name} did not announce its places to "
                                   f"{self.coordinator} within {timeout_s:g} s: see "
                                   f"{self.log_file}")
                time.sleep(0.2)

    @property
    def exporter_pid(self) -> int | None:
        return self._exporter.pid if self._exporter else None

    def describe(self) -> dict[str, object]:
        """What a test or an administrator needs: places, their loads, the exporter."""
        loads: Mapping[str, str] = {p.name: p.bench.parts.load_resource  # type: ignore[union-attr]
                                    for p in self.places}
        return {"exporter": self.name, "exporter_pid": self.exporter_pid,
                "resource_file": str(self.resource_file), "loads": dict(loads)}

    def _start_exporter(self) -> None:
        with self.log_file.open("ab") as out:
            self._exporter = subprocess.Popen(
                [exporter_binary(), "--coordinator", self.coordinator, "--name", self.name,
                 "--hostname", self.hostname, str(self.resource_file)],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=_terminate_with_parent,
                # The exporter forks ser2net while gRPC's threads run; gRPC's fork handlers
                # then break its poller ("epoll_wait error: Bad file descriptor", an abort).
                # Its children exec at once, so they need no fork support.
                env={**os.environ, "GRPC_ENABLE_FORK_SUPPORT": "false"})
        self.exporter_starts += 1
        log.info("exporter %s started (pid %s)", self.name, self._exporter.pid)

    def _kill_exporter_group(self) -> None:
        """SIGTERM the exporter's process group (it and its ser2net), then SIGKILL."""
        proc, self._exporter = self._exporter, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # ser2net children left behind, if any
        proc.wait()

    def _keep_exporter(self) -> None:
        while not self._stopping.is_set():
            proc = self._exporter
            if proc is not None and proc.poll() is not None:
                log.warning("exporter %s exited with %s; restarting in %g s", self.name,
                            proc.returncode, self.restart_s)
                self._kill_exporter_group()
                if self._stopping.wait(self.restart_s):
                    return
                self._start_exporter()
            self._stopping.wait(0.2)

    def stop(self) -> None:
        self._stopping.set()
        if self._watch.is_alive():
            self._watch.join(5)
        self._kill_exporter_group()
        for place in self.places:
            place.stop()
