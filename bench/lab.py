"""Lab scale: vends per second through a served PostgreSQL billing centre with 1, 4 and 16
concurrent HTTP stations, the certification suite's wall time on 1 and 2 xdist workers, and
the suite over lab places on labgrid (2 bench hosts vs 1) with the cost of one acquire/release.

Run from the repo root: ``.venv/bin/python bench/lab.py [--vends N] [--cert-k EXPR | --cert-all]``.
Needs the local PostgreSQL that setup.sh starts (or ``$RIG_POSTGRES_URL``). Everything runs on
one scratch database served by ``rig billing serve`` in its own process: each station is a
thread with its own HTTP connection and cashier token, and each vend goes to a meter with no
unapplied purchase (one meter per vend), so every request is one complete sale. The suite
runs as ``pytest -n W`` with a bench config naming that served centre (the lab's set-up), on
the subset ``--cert-k`` selects unless ``--cert-all``. The lab row starts a labgrid
coordinator and bench hosts on loopback (``--places N`` emulated places, default 4: 8 needs
8 free vpcd reader slots) and runs one suite job per place at once, with the places on two
exporters and then all on one; the acquire/release overhead is a job's reserve, acquire,
safe-state check, release and cancel with nothing run in between, averaged over
``--acquires`` rounds. ``--lab-only`` measures only that row. Prints a table and, last, one
flat JSON line.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from rig.billing import open_billing
from rig.billing.postgres import reachable, scratch_database
from rig.station import loadgen
from tests.lab.labgrid_lab import Lab, labgrid_lab
from tests.lab.service import REPO, Served, child_env, served_centre, station_cashiers
from tests.lab.stations import run_stations

STATIONS = (1, 4, 16)
WARM_UP = 16  # vends before measuring
CERT_K = "buy_and_insert or replayed or another_meter or reconciliation"


def vend_rates(db_url: str, served: Served, vends: int) -> dict[int, float]:
    """Vends per second for each station count, `vends` sales per count in all."""
    rates: dict[int, float] = {}
    numbers = iter(loadgen.meter_numbers(vends * len(STATIONS) + WARM_UP))
    warm = [[next(numbers) for _ in range(WARM_UP // 4)] for _ in range(4)]
    plan = {n: [[next(numbers) for _ in range(vends // n)] for _ in range(n)] for n in STATIONS}
    with open_billing(db_url) as centre:
        loadgen.prepare(centre, meters=[m for ms in [warm, *plan.values()] for s in ms for m in s],
                        stations=[f"DESK-{i}" for i in range(max(STATIONS))])
    cashiers = station_cashiers(db_url, [f"DESK-{i}" for i in range(max(STATIONS))])
    # Not counted: the server's first requests (connection pool, caches, lazy imports).
    run_stations(served.url, cashiers[:4], [f"DESK-{i}" for i in range(4)], lambda i: warm[i],
                 WARM_UP // 4, run="warm-")
    for n in STATIONS:
        meters = plan[n]
        made, seconds = run_stations(served.url, cashiers[:n], [f"DESK-{i}" for i in range(n)],
                                     lambda i, ms=meters: ms[i], vends // n, run=f"{n}x-")
        if len(made) != n * (vends // n):
            raise RuntimeError(f"{n} stations made {len(made)} vends, not {n * (vends // n)}")
        rates[n] = len(made) / seconds
    return rates


def cert_wall(served: Served, workers: int, selection: str | None, workdir: Path) -> tuple[
        float, int]:
    """Seconds for `pytest -n workers rig/suites/certification` on benches sharing `served`."""
    bench = workdir / "lab-bench.toml"
    bench.write_text(f'kind = "emulated"\ntime_scale = 36000.0\n\n[billing]\n'
                     f'url = "{served.url}"\ntoken_file = "{served.token_file}"\n')
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n",
               str(workers), "--bench", str(bench), "--alluredir", str(workdir / "allure"),
               "rig/suites/certification"]
    if selection:
        command += ["-k", selection]
    t0 = time.perf_counter()
    run = subprocess.run(command, cwd=REPO, env=child_env(), capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if run.returncode != 0:
        raise RuntimeError(f"certification suite on {workers} workers failed:\n"
                           f"{run.stdout[-3000:]}{run.stderr[-1000:]}")
    counts = re.search(r"(\d+) passed(?:, (\d+) skipped)?", run.stdout)
    if counts is None:
        raise RuntimeError(f"no pytest summary in:\n{run.stdout[-2000:]}")
    return seconds, int(counts.group(1)) + int(counts.group(2) or 0)


def lab_wall(served: Served, places: int, hosts: int, selection: str | None,
             workdir: Path) -> tuple[float, int]:
    """Seconds for one suite job per place, all at once, on `places` places over `hosts`
    bench hosts; and the tests run."""
    bench = workdir / "lab-place.toml"
    bench.write_text(f'kind = "emulated"\n\n[billing]\nurl = "{served.url}"\n'
                     f'token_file = "{served.token_file}"\n')
    with labgrid_lab(workdir / f"lab-{hosts}", places, hosts) as lab:
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--bench",
                   str(bench), "--alluredir", str(workdir / "allure-lab"),
                   "rig/suites/certification"] + (["-k", selection] if selection else [])
        t0 = time.perf_counter()
        jobs = [subprocess.Popen([*command, "--lg-place", place], cwd=REPO,
                                 env=lab.env(f"job{i}"), stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
                for i, place in enumerate(lab.places)]
        outputs = [job.communicate()[0] for job in jobs]
        seconds = time.perf_counter() - t0
    tests = 0
    for job, out in zip(jobs, outputs, strict=True):
        if job.returncode != 0:
            raise RuntimeError(f"a suite job on a lab place failed:\n{out[-3000:]}")
        counts = re.search(r"(\d+) passed(?:, (\d+) skipped)?", out)
        tests += int(counts.group(1)) + int(counts.group(2) or 0) if counts else 0
    return seconds, tests


def acquire_release_s(workdir: Path, rounds: int) -> float:
    """Mean seconds of one placed_bench round (reserve, acquire, resources, load off read
    back, load off again, release, cancel) with nothing run on the place."""
    from rig.bench.config import BenchConfig
    from rig.lab.job import placed_bench

    with labgrid_lab(workdir / "lab-acquire", 2, 2) as lab:
        _warm(lab)
        t0 = time.perf_counter()
        for _ in range(rounds):
            with placed_bench(lab.places[0], BenchConfig(), coordinator=lab.coordinator,
                              say=lambda _: None):
                pass
        return (time.perf_counter() - t0) / rounds


def _warm(lab: Lab) -> None:
    from rig.lab.coordinator import LabClient

    with LabClient(lab.coordinator) as client:
        client.places()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vends", type=int, default=160, help="sales per station count")
    parser.add_argument("--cert-k", default=CERT_K, help="-k selection of the suite")
    parser.add_argument("--cert-all", action="store_true", help="the whole suite")
    parser.add_argument("--places", type=int, default=4, help="lab places (8: CI)")
    parser.add_argument("--acquires", type=int, default=20, help="acquire/release rounds")
    parser.add_argument("--lab-only", action="store_true", help="only the lab places row")
    args = parser.parse_args()
    why = reachable()
    if why is not None:
        sys.exit(why)
    selection = None if args.cert_all else args.cert_k
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="rig-lab-") as tmp, \
            scratch_database(prefix="rig_bench") as db_url, \
            served_centre(db_url, Path(tmp)) as served:
        if not args.lab_only:
            rates = vend_rates(db_url, served, args.vends)
            walls = {w: cert_wall(served, w, selection, Path(tmp)) for w in (1, 2)}
        places = {h: lab_wall(served, args.places, h, selection, Path(tmp)) for h in (2, 1)}
        overhead = acquire_release_s(Path(tmp), args.acquires)
    subset = "whole suite" if selection is None else f"-k {selection!r}"
    if not args.lab_only:
        tests = walls[1][1]
        print(f"{'served PostgreSQL billing centre':<40} {'vends/s':>10}")
        for n, rate in rates.items():
            print(f"  {n:>2} concurrent HTTP station(s){'':<12} {rate:>10.1f}")
        print(f"{f'certification suite, {tests} tests':<40} {'wall s':>10}")
        print(f"  ({subset})")
        for w, (seconds, _) in walls.items():
            print(f"  pytest -n {w}{'':<29} {seconds:>10.1f}")
        print(f"  speed-up 2 workers / 1{'':<17} {walls[1][0] / walls[2][0]:>10.2f}")
        figures.update({f"vends_per_s_{n}_stations": round(r, 1) for n, r in rates.items()})
        figures.update({f"cert_wall_s_{w}_workers": round(s, 1) for w, (s, _) in walls.items()})
        figures["cert_tests"] = tests
        figures["cert_speedup_2_workers"] = round(walls[1][0] / walls[2][0], 2)
    print(f"{f'suite on {args.places} lab places, {places[2][1]} tests':<40} {'wall s':>10}")
    print(f"  ({subset}; one job per place, all at once)")
    for h, (seconds, _) in places.items():
        print(f"  places on {h} bench host(s){'':<14} {seconds:>10.1f}")
    print(f"  ratio 2 hosts / 1{'':<22} {places[2][0] / places[1][0]:>10.2f}")
    print(f"  acquire + release, per job{'':<13} {overhead * 1000:>8.0f} ms")
    figures.update({f"lab_wall_s_{args.places}_places_{h}_hosts": round(s, 1)
                    for h, (s, _) in places.items()})
    figures["lab_tests"] = places[2][1]
    figures["lab_acquire_release_ms"] = round(overhead * 1000)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
