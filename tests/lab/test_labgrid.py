"""A lab of bench machines on labgrid, on loopback: a coordinator, two bench hosts (each with
its exporter and ser2net) serving emulated benches as places, jobs reserving them.

RIG_LAB_PLACES sets the number of places (default 4: one machine shares its eight vpcd
reader slots with other test runs; CI runs 8)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from rig.bench.config import BenchConfig
from rig.billing import open_billing
from rig.lab.coordinator import LabClient, LabError
from rig.lab.job import placed_bench
from tests.lab.labgrid_lab import PLACES, labgrid_lab, load_input_on, stop_group, wait_until
from tests.lab.service import REPO, served_centre

SELECTION = "buy_and_insert or replayed"  # two requirements, one fresh meter each
TESTS_PER_JOB = 2
RIG = [sys.executable, "-c", "from rig.cli.main import app; app()"]


def _cert_job(lab_env: dict[str, str], bench: Path, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--bench", str(bench),
         "--lg-place", "bench=emulated", "--alluredir", str(out), "rig/suites/certification",
         "-k", SELECTION], cwd=REPO, env=lab_env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True)


def test_two_clients_run_the_suite_across_the_places(pg_url: str, tmp_path: Path) -> None:
    """More jobs than places from two CI runners at once: every job gets a place (some wait
    in the queue and say so), no place serves two jobs at a time, and the one ledger has one
    meter per test with contiguous sequences and an intact audit chain."""
    jobs_per_client = PLACES // 2 + 1
    with served_centre(pg_url, tmp_path) as served, labgrid_lab(tmp_path, PLACES) as lab:
        bench = tmp_path / "ci-bench.toml"
        bench.write_text(f'kind = "emulated"\n\n[billing]\nurl = "{served.url}"\n'
                         f'token_file = "{served.token_file}"\n')
        jobs = [(client, _cert_job(lab.env(client), bench, tmp_path / f"allure-{client}-{j}"))
                for client in ("ci-a", "ci-b") for j in range(jobs_per_client)]
        try:
            results = [(client, *job.communicate(timeout=1200), job.returncode)
                       for client, job in jobs]
        finally:
            for _, job in jobs:
                if job.poll() is None:
                    stop_group(job)  # type: ignore[arg-type]
        coordinator_log = lab.coordinator_log()
        places = set(lab.places)

    used: dict[str, list[str]] = defaultdict(list)
    waited = 0
    for client, out, err, code in results:
        assert code == 0, f"{client}: {out[-3000:]}{err[-2000:]}"
        assert f"{TESTS_PER_JOB} passed" in out, out[-2000:]
        got = re.findall(r"lab place (bench-\d+) acquired by ([^;\s]+)", err)
        assert len(got) == 1 and got[0][1] == f"{client}-runner/{client}", err
        assert re.search(rf"lab place {got[0][0]} released; load input off", err), err
        used[got[0][0]].append(client)
        waited += "waiting for a place: position" in err
    assert sum(len(c) for c in used.values()) == 2 * jobs_per_client  # every job got one
    assert set(used) <= places
    assert waited >= 1  # more jobs than places: someone queued, and was told where

    # labgrid's own record: each place acquired and released in turn, never twice at once
    events = re.findall(r"^(bench-\d+): place (acquired|released)", coordinator_log, re.M)
    held: dict[str, bool] = defaultdict(bool)
    for place, event in events:
        assert held[place] != (event == "acquired"), f"{place} {event} twice in a row"
        held[place] = event == "acquired"
    assert not any(held.values())  # all given back
    assert sum(e == "acquired" for _, e in events) == 2 * jobs_per_client

    with open_billing(pg_url) as centre:
        meters = centre.meters()
        assert len(meters) == TESTS_PER_JOB * 2 * jobs_per_client  # one fresh meter a test
        assert len({m.meter_no for m in meters}) == len(meters)
        for meter in meters:
            sequences = sorted(v.sequence for v in centre.vends_for_meter(meter.meter_no))
            assert sequences == list(range(1, meter.last_sequence + 1)), meter.meter_no
        assert centre.verify_audit_chain().ok


def _cycle_job(lab_env: dict[str, str], place: str, out: Path) -> subprocess.Popen[str]:
    """The prepaid cycle on `place`, slow enough (360×) to be caught in the middle."""
    return subprocess.Popen(
        [*RIG, "run", "--place", place, "--time-scale", "360", "--out", str(out)],
        env=lab_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)


def test_killed_exporter_fails_the_job_naming_the_place_with_the_load_off(
        tmp_path: Path) -> None:
    with labgrid_lab(tmp_path, places=2) as lab:
        place = lab.places[0]
        host = lab.host_of(place)
        load = host.loads[place]
        job = _cycle_job(lab.env(), place, tmp_path / "runs")
        try:
            wait_until(lambda: load_input_on(load), 240, "the job's load on")
            os.killpg(host.exporter_pid, signal.SIGKILL)  # the exporter and its ser2net
            out, err = job.communicate(timeout=300)
        finally:
            if job.poll() is None:
                stop_group(job)  # type: ignore[arg-type]
        assert job.returncode == 2, out + err
        assert re.search(rf"error: place {place}: .*exit code 2", err), err
        assert re.search(rf"place {place} released; load input off", err), err
        assert not load_input_on(load)  # asked on a session of our own
        assert "NOT SAFE" not in out

        # Recovery: the bench host restarts its exporter (as systemd would); the place
        # comes back with a fresh ser2net port and serves the next job.
        with LabClient(lab.coordinator) as client:
            wait_until(lambda: place in client.exported_groups(host.name), 60,
                       "the place exported again")
        again = subprocess.run([*RIG, "run", "--place", place, "--out", str(tmp_path / "r2")],
                               env=lab.env(), capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]


def test_abandoned_place_is_recovered_and_made_safe(tmp_path: Path) -> None:
    """A job killed outright holds its place for ever (labgrid releases nothing by itself):
    `rig lab recover` switches the load off, cancels the reservation and releases it."""
    with labgrid_lab(tmp_path, places=2) as lab:
        place = lab.places[1]
        load = lab.host_of(place).loads[place]
        job = _cycle_job(lab.env("ci-dead"), place, tmp_path / "runs")
        try:
            wait_until(lambda: load_input_on(load), 240, "the job's load on")
        finally:
            os.killpg(job.pid, signal.SIGKILL)
            job.wait()
        with LabClient(lab.coordinator) as client:
            assert client.place(place).acquired == "ci-dead-runner/ci-dead"
        assert load_input_on(load)  # nobody switched it off: the job died

        said: list[str] = []  # the next job waits, told who holds the place
        with pytest.raises(LabError, match=r"no place within 3 s \(position 1 of 1"), \
                placed_bench(place, BenchConfig(), coordinator=lab.coordinator,
                             say=said.append, timeout_s=3, poll_s=0.5):
            pass
        assert said == ["waiting for a place: position 1 of 1 in the queue; held by "
                        "ci-dead-runner/ci-dead"]
        recovered = subprocess.run([*RIG, "lab", "recover", place], env=lab.env("admin"),
                                   capture_output=True, text=True, timeout=120)
        assert recovered.returncode == 0, recovered.stderr
        assert f"place {place} taken back from ci-dead-runner/ci-dead: load input off " \
               "(read back); released" in " ".join(recovered.stderr.split()), recovered.stderr
        assert not load_input_on(load)
        again = subprocess.run([*RIG, "run", "--suite", "certification", "--place", place,
                                "-k", "buy_and_insert", "--out", str(tmp_path / "r2")],
                               env=lab.env("ci-next"), capture_output=True, text=True,
                               timeout=300)
        assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
        assert f"lab place {place} acquired by ci-next-runner/ci-next" in again.stderr
        assert "1 tests  passed: 1" in again.stderr, again.stderr[-2000:]
