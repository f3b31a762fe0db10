"""Vends per second on a SQLite file (1 station, 4 station processes) vs bare SQLite commits.

Run from the repo root: ``.venv/bin/python bench/billing_vend.py [--vends N] [--dir DIR]``.
Every figure is measured on the same disk (a fresh temporary folder under ``DIR``, default
``bench/``) with the pragmas the billing engine uses (WAL, same ``synchronous``). Each vend goes
to a meter with no unapplied purchase (one meter per vend), so nothing is refused and the
figure is the cost of a complete vend: checks, pricing, sequence allocation, audit append and
one commit. The ratio ``commits_per_vend`` is bare-commit rate / vend rate (goal: ≤ 3). A
shared disk's speed drifts, so bare commits are timed right before and right after each vend
run and the ratio uses their mean. With a reachable PostgreSQL (``RIG_POSTGRES_URL`` or the
lab default) the same vend runs go to a scratch database, beside bare PostgreSQL commits.
Prints a table and, last, one flat JSON line.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import queue
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from rig.billing import BillingBusy, loadgen, open_billing
from rig.billing.postgres import postgres_url, reachable, scratch_database

warnings.filterwarnings("ignore", message="Dialect sqlite.*Decimal objects natively")


def bare_postgres_commits(url: str, n: int) -> float:
    """Commits per second of a one-row insert on PostgreSQL (psycopg, no ORM)."""
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    with psycopg.connect(host=u.host, port=u.port, user=u.username, password=u.password,
                         dbname=u.database) as con:
        con.execute("CREATE TABLE t (id SERIAL PRIMARY KEY, v TEXT)")
        con.commit()
        t0 = time.perf_counter()
        for i in range(n):
            con.execute("INSERT INTO t (v) VALUES (%s)", (f"row {i}",))
            con.commit()
        return n / (time.perf_counter() - t0)


def bare_commits(db: Path, n: int, synchronous: int) -> float:
    """Commits per second of a one-row insert with the billing engine's journal settings."""
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute(f"PRAGMA synchronous={synchronous}")
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    t0 = time.perf_counter()
    for i in range(n):
        con.execute("BEGIN IMMEDIATE")
        con.execute("INSERT INTO t (v) VALUES (?)", (f"row {i}",))
        con.execute("COMMIT")
    rate = n / (time.perf_counter() - t0)
    con.close()
    return rate


def _station(url: str, station: str, meters: list[str], barrier: object, out: object) -> None:
    """Sell once to ``meters[0]`` before the clock starts (a station that has been open a while:
    connected, statements compiled, tariff cached), then once to each of the others."""
    try:
        centre = open_billing(url)
        centre.vend(meters[0], loadgen.amount_for(0, 1), request_id=f"{station}-warm-up",
                    station=station, operator=loadgen.OPERATOR)
        barrier.wait()  # type: ignore[attr-defined]
        t0 = time.perf_counter()
        timeouts = 0
        for i, no in enumerate(meters[1:]):
            while True:  # idempotent by request id: a lock timeout is simply retried
                try:
                    centre.vend(no, loadgen.amount_for(i, 1), request_id=f"{station}-{i}",
                                station=station, operator=loadgen.OPERATOR)
                    break
                except BillingBusy:
                    timeouts += 1
        out.put((len(meters) - 1, t0, time.perf_counter(), timeouts))  # type: ignore[attr-defined]
        centre.close()
    except BaseException:
        out.put(traceback.format_exc())  # type: ignore[attr-defined]
        raise


def prepared(url: str, stations: int, vends: int) -> list[str]:
    """Register ``vends`` meters (one per vend) plus one per station for its warm-up sale, and
    ``stations`` stations, at ``url``."""
    meters = loadgen.meter_numbers(vends + stations)
    with open_billing(url) as centre:
        loadgen.prepare(centre, meters=meters, stations=[f"ST-{k}" for k in range(stations)])
    return meters


def vend_rate(url: str, stations: int, meters: list[str]) -> tuple[float, int]:
    """Vends per second with ``stations`` station processes sharing one prepared database
    (one vend per meter), and how many times a station's wait for a lock outlasted the lock
    wait (BillingBusy, retried)."""
    names = [f"ST-{k}" for k in range(stations)]
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(stations), ctx.Queue()
    procs = [ctx.Process(target=_station, args=(url, name, meters[k::stations], barrier, out))
             for k, name in enumerate(names)]
    for p in procs:
        p.start()
    results: list[tuple[int, float, float, int]] = []
    while len(results) < len(procs):
        try:
            got = out.get(timeout=5)
        except queue.Empty:
            if all(p.exitcode is not None for p in procs):
                raise SystemExit("a station process died without reporting") from None
            continue
        if isinstance(got, str):
            raise SystemExit(f"a station process failed:\n{got}")
        results.append(got)
    for p in procs:
        p.join()
    total = sum(r[0] for r in results)
    rate = total / (max(r[2] for r in results) - min(r[1] for r in results))
    return rate, sum(r[3] for r in results)


def _mean(a: float, b: float) -> float:
    return (a + b) / 2


def _postgres(vends: int, commits: int) -> dict[str, float]:
    """The vend runs on a scratch PostgreSQL database, beside its bare commits (empty if no
    PostgreSQL answers)."""
    if reachable(postgres_url()) is not None:
        return {}
    figures: dict[str, float] = {}
    with scratch_database(prefix="rig_bench") as url:
        bare = bare_postgres_commits(url, commits)
    for stations in (1, 4):
        with scratch_database(prefix="rig_bench") as url:
            rate, _ = vend_rate(url, stations, prepared(url, stations, vends))
        figures[f"pg_vends_per_s_{stations}_station{'s' if stations > 1 else ''}"] = round(rate, 1)
        figures[f"pg_commits_per_vend_{stations}_station{'s' if stations > 1 else ''}"] = \
            round(bare / rate, 2)
    figures["pg_bare_commits_per_s"] = round(bare, 1)
    return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vends", type=int, default=1000, help="vends per configuration")
    ap.add_argument("--commits", type=int, default=2000, help="bare commits to time")
    ap.add_argument("--dir", type=Path, default=Path(__file__).resolve().parent)
    ap.add_argument("--rounds", type=int, default=5, help="vend runs per configuration")
    ap.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="billing-vend-", dir=args.dir))
    runs: dict[int, list[tuple[float, float, float]]] = {1: [], 4: []}  # (bare, vends, ratio)
    lock_timeouts = 0
    try:
        with open_billing(f"sqlite:///{folder / 'probe.sqlite'}") as probe, \
                probe.engine.connect() as conn:
            synchronous = int(conn.exec_driver_sql("PRAGMA synchronous").scalar_one())
        templates = {n: folder / f"template{n}.sqlite" for n in runs}
        meters = {n: prepared(f"sqlite:///{templates[n]}", n, args.vends) for n in runs}
        bare = bare_commits(folder / "bare.sqlite", args.commits, synchronous)
        for r in range(args.rounds):
            for n in runs:
                db = folder / f"round{r}-{n}.sqlite"
                shutil.copyfile(templates[n], db)  # every run starts from the same database
                rate, timeouts = vend_rate(f"sqlite:///{db}", n, meters[n])
                after = bare_commits(folder / f"bare-{r}-{n}.sqlite", args.commits, synchronous)
                runs[n].append((_mean(bare, after), rate, _mean(bare, after) / rate))
                lock_timeouts += timeouts
                bare = after
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    pg = {} if args.no_postgres else _postgres(args.vends, args.commits // 4)
    median = {n: sorted(runs[n], key=lambda run: run[2])[len(runs[n]) // 2] for n in runs}
    figures = {
        "bare_commits_per_s": round(statistics.median(run[0] for n in runs for run in runs[n]),
                                    1),
        "vends_per_s_1_station": round(median[1][1], 1),
        "vends_per_s_4_stations": round(median[4][1], 1),
        "commits_per_vend_1_station": round(median[1][2], 2),
        "commits_per_vend_4_stations": round(median[4][2], 2),
        "commits_per_vend_1_station_max": round(max(run[2] for run in runs[1]), 2),
        "commits_per_vend_4_stations_max": round(max(run[2] for run in runs[4]), 2),
        "lock_timeouts_4_stations": lock_timeouts,
        "sqlite_synchronous": synchronous,
        "vends": args.vends,
        "rounds": args.rounds,
        **pg,
    }
    print(f"disk: {args.dir} (SQLite WAL, synchronous={synchronous}); {args.rounds} rounds, "
          "each vend run between two bare-commit runs")
    for n, label in ((1, "1 station"), (4, "4 stations")):
        print(f"{label:<11} bare commits/s " + " ".join(f"{run[0]:>7.0f}" for run in runs[n]))
        print(f"{'':<11} vends/s        " + " ".join(f"{run[1]:>7.0f}" for run in runs[n]))
        print(f"{'':<11} commits/vend   " + " ".join(f"{run[2]:>7.2f}" for run in runs[n])
              + f"   median {median[n][2]:.2f} "
              f"(goal ≤ 3: {'met' if median[n][2] <= 3 else 'NOT met'})")
    print(f"4 stations: {lock_timeouts} lock wait(s) outlasted the lock wait (retried)")
    if pg:
        print(f"PostgreSQL: bare commits/s {pg['pg_bare_commits_per_s']:.1f}; vends/s "
              f"1 station {pg['pg_vends_per_s_1_station']:.1f} "
              f"(= {pg['pg_commits_per_vend_1_station']:.2f} bare commits), 4 stations "
              f"{pg['pg_vends_per_s_4_stations']:.1f} "
              f"(= {pg['pg_commits_per_vend_4_stations']:.2f})")
    else:
        print("PostgreSQL: not measured (" + ("--no-postgres" if args.no_postgres else
                                            str(reachable(postgres_url()))) + ")")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
