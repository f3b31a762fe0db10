"""Lab scale: vends per second through a served PostgreSQL billing centre with 1, 4 and 16
concurrent HTTP stations, and the certification suite's wall time on 1 and 2 xdist workers.

Run from the repo root: ``.venv/bin/python bench/lab.py [--vends N] [--cert-k EXPR | --cert-all]``.
Needs the local PostgreSQL that setup.sh starts (or ``$RIG_POSTGRES_URL``). Everything runs on
one scratch database served by ``rig billing serve`` in its own process: each station is a
thread with its own HTTP connection and cashier token, and each vend goes to a meter with no
unapplied purchase (one meter per vend), so every request is one complete sale. The suite
runs as ``pytest -n W`` with a bench config naming that served centre (the lab's set-up), on
the subset ``--cert-k`` selects unless ``--cert-all``. Prints a table and, last, one flat
JSON line.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vends", type=int, default=160, help="sales per station count")
    parser.add_argument("--cert-k", default=CERT_K, help="-k selection of the suite")
    parser.add_argument("--cert-all", action="store_true", help="the whole suite")
    args = parser.parse_args()
    why = reachable()
    if why is not None:
        sys.exit(why)
    selection = None if args.cert_all else args.cert_k
    with tempfile.TemporaryDirectory(prefix="rig-lab-") as tmp, \
            scratch_database(prefix="rig_bench") as db_url, \
            served_centre(db_url, Path(tmp)) as served:
        rates = vend_rates(db_url, served, args.vends)
        walls = {w: cert_wall(served, w, selection, Path(tmp)) for w in (1, 2)}
    tests = walls[1][1]
    print(f"{'served PostgreSQL billing centre':<40} {'vends/s':>10}")
    for n, rate in rates.items():
        print(f"  {n:>2} concurrent HTTP station(s){'':<12} {rate:>10.1f}")
    subset = "whole suite" if selection is None else f"-k {selection!r}"
    print(f"{f'certification suite, {tests} tests':<40} {'wall s':>10}")
    print(f"  ({subset})")
    for w, (seconds, _) in walls.items():
        print(f"  pytest -n {w}{'':<29} {seconds:>10.1f}")
    print(f"  speed-up 2 workers / 1{'':<17} {walls[1][0] / walls[2][0]:>10.2f}")
    figures: dict[str, float] = {f"vends_per_s_{n}_stations": round(r, 1)
                                 for n, r in rates.items()}
    figures.update({f"cert_wall_s_{w}_workers": round(s, 1) for w, (s, _) in walls.items()})
    figures["cert_tests"] = tests
    figures["cert_speedup_2_workers"] = round(walls[1][0] / walls[2][0], 2)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
