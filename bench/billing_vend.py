"""Vends per second on a SQLite file (1 station, 4 station processes) vs bare SQLite commits.

Run from the repo root: ``.venv/bin/python bench/billing_vend.py [--vends N] [--dir DIR]``.
Every figure is measured on the same disk (a fresh temporary folder under ``DIR``, default
``bench/``) with the pragmas the billing engine uses (WAL, same ``synchronous``). Each vend goes
to a meter with no unapplied purchase (one meter per vend), so nothing is refused and the
figure is the cost of a complete vend: checks, pricing, sequence allocation, audit append and
one commit. The ratio ``commits_per_vend`` is the time of a vend / the time of a bare commit
(goal: ≤ 3). Both run on a write-ahead log already grown to its working size (see
:func:`steady_wal`), as in a database that has been in service a while.

A shared disk's speed drifts within a second, so a 1-station run is cut into chunks of
``--chunk`` vends, each followed by as many bare commits, and the ratio compares the two sums
(four stations run as one chunk, see :func:`vend_run`). The row
``SQL alone`` replays, with plain ``sqlite3``, the exact statements and parameters the
1-station run sent (recorded once from a centre): what a vend costs with no Python logic at
all, so the distance between the two rows is the centre's own work: ``vend_x_sql_1_station``
is rig's sale over its SQL, each in bare commits of its own chunks, round by round (goal ≤
1.5). With a reachable PostgreSQL (``RIG_POSTGRES_URL`` or the lab default) the same vend runs
go to a scratch database, beside bare PostgreSQL commits, and the 1-station run's statements,
recorded there, are replayed by plain psycopg on a database prepared alike
(``pg_vend_x_sql_1_station``). Prints a table and, last, one flat JSON line.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import traceback
import warnings
from pathlib import Path
from typing import Any, Protocol

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from sqlalchemy import event

from rig.billing import BillingBusy, open_billing
from rig.billing.centre.sales import direct
from rig.billing.postgres import postgres_url, reachable, scratch_database
from rig.station import loadgen

warnings.filterwarnings("ignore", message="Dialect sqlite.*Decimal objects natively")
BARRIER_TIMEOUT_S = 300.0
GOAL_VEND_X_SQL = 1.5  # rig's sale / its own SQL replayed bare (issue 23)
Statements = list[tuple[str, Any, bool]]  # (SQL, DBAPI parameters, fetch a row)


def steady_wal(db: Path) -> sqlite3.Connection:
    """Grow ``db``'s write-ahead log past its working size (the 1,000-page auto-checkpoint) by
    rewriting the header page, and return the connection that keeps it: SQLite deletes the log
    when its last connection closes. The run that follows then writes over a log that exists,
    as in a database that has been in service a while, instead of growing a new file — on this
    disk a commit that grows the log costs 1.3-1.6 times one that does not, which would
    flatter whichever side grew it."""
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")  # this connection's commits only
    version = con.execute("PRAGMA user_version").fetchone()[0]
    for k in range(1100):  # one page, one commit each
        con.execute(f"PRAGMA user_version={version + 1 + k % 2}")
    con.execute(f"PRAGMA user_version={version}")
    return con


class Bare(Protocol):
    def time(self, n: int) -> float:
        """Seconds taken by ``n`` one-row insert commits."""


class BareSqlite:
    """One-row insert commits with the billing engine's journal settings."""

    def __init__(self, db: Path, synchronous: int) -> None:
        self._con = sqlite3.connect(db, isolation_level=None)
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute(f"PRAGMA synchronous={synchronous}")
        self._con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        self._i = 0
        self.time(1100)  # past the auto-checkpoint: a log of working size (see steady_wal)

    def time(self, n: int) -> float:
        con = self._con
        t0 = time.perf_counter()
        for _ in range(n):
            self._i += 1
            con.execute("BEGIN IMMEDIATE")
            con.execute("INSERT INTO t (v) VALUES (?)", (f"row {self._i}",))
            con.execute("COMMIT")
        return time.perf_counter() - t0

    def close(self) -> None:
        self._con.close()


def _psycopg(url: str) -> Any:
    """A plain psycopg connection to ``url`` (no SQLAlchemy)."""
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    return psycopg.connect(host=u.host, port=u.port, user=u.username, password=u.password,
                           dbname=u.database)


class BarePostgres:
    """One-row insert commits on PostgreSQL (psycopg, no ORM)."""

    def __init__(self, url: str) -> None:
        self._con = _psycopg(url)
        self._con.execute("CREATE TABLE t (id SERIAL PRIMARY KEY, v TEXT)")
        self._con.commit()
        self._i = 0

    def time(self, n: int) -> float:
        con = self._con
        t0 = time.perf_counter()
        for _ in range(n):
            self._i += 1
            con.execute("INSERT INTO t (v) VALUES (%s)", (f"row {self._i}",))
            con.commit()
        return time.perf_counter() - t0

    def close(self) -> None:
        self._con.close()


def _sizes(total: int, count: int) -> list[int]:
    """``total`` split into ``count`` near-equal parts."""
    size, extra = divmod(total, count)
    return [size + (k < extra) for k in range(count)]


def _chunks(items: list[str], count: int) -> list[list[str]]:
    chunks, start = [], 0
    for size in _sizes(len(items), count):
        chunks.append(items[start:start + size])
        start += size
    return chunks


def _station(url: str, station: str, meters: list[str], chunks: int, gate: Any,
             out: Any) -> None:
    """Sell once to ``meters[0]`` before the clock starts (a station that has been open a while:
    connected, statements compiled, tariff cached), then to each of the others, one chunk
    between each pair of ``gate`` waits."""
    try:
        centre = open_billing(url)
        centre.vend(meters[0], loadgen.amount_for(0, 1), request_id=f"{station}-warm-up",
                    station=station, operator=loadgen.OPERATOR)
        timeouts, i = 0, 0
        for part in _chunks(meters[1:], chunks):
            gate.wait(BARRIER_TIMEOUT_S)
            for no in part:
                while True:  # idempotent by request id: a lock timeout is simply retried
                    try:
                        centre.vend(no, loadgen.amount_for(i, 1), request_id=f"{station}-{i}",
                                    station=station, operator=loadgen.OPERATOR)
                        break
                    except BillingBusy:
                        timeouts += 1
                i += 1
            gate.wait(BARRIER_TIMEOUT_S)
        out.put(timeouts)
        centre.close()
    except BaseException:
        out.put(traceback.format_exc())
        gate.abort()
        raise


def prepared(url: str, stations: int, vends: int) -> list[str]:
    """Register ``vends`` meters (one per vend) plus one per station for its warm-up sale, and
    ``stations`` stations, at ``url``."""
    meters = loadgen.meter_numbers(vends + stations)
    with open_billing(url) as centre:
        loadgen.prepare(centre, meters=meters, stations=[f"ST-{k}" for k in range(stations)])
    return meters


def vend_run(url: str, stations: int, meters: list[str], bare: Bare,
             chunk: int) -> tuple[float, float, int]:
    """Seconds spent vending (``stations`` station processes sharing one prepared database, one
    vend per meter) and in as many bare commits, chunk by chunk; and how many times a station's
    wait for a lock outlasted the lock wait (BillingBusy, retried)."""
    vends = len(meters) - stations
    # Several stations run as one chunk: at a chunk's end the station holding the lock finishes
    # its share while the others back off in SQLite's busy handler (sleeps up to 100 ms),
    # leaving the lock idle — a stop a continuous run never has.
    chunks = max(1, round(vends / chunk)) if stations == 1 else 1
    ctx = multiprocessing.get_context("spawn")
    gate, out = ctx.Barrier(stations + 1), ctx.Queue()
    procs = [ctx.Process(target=_station,
                         args=(url, f"ST-{k}", meters[k::stations], chunks, gate, out))
             for k in range(stations)]
    for p in procs:
        p.start()
    vending = bare_s = 0.0
    try:
        for size in _sizes(vends, chunks):
            gate.wait(BARRIER_TIMEOUT_S)
            t0 = time.perf_counter()
            gate.wait(BARRIER_TIMEOUT_S)
            vending += time.perf_counter() - t0
            bare_s += bare.time(size)
    except threading.BrokenBarrierError:
        raise SystemExit(f"a station process failed:\n{out.get(timeout=10)}") from None
    results = [out.get(timeout=BARRIER_TIMEOUT_S) for _ in procs]
    for p in procs:
        p.join()
    failed = [r for r in results if isinstance(r, str)]
    if failed:
        raise SystemExit(f"a station process failed:\n{failed[0]}")
    return vending, bare_s, sum(results)


def record_statements(template: Path, meters: list[str]) -> list[Statements]:
    """The statements (SQL and DBAPI parameters) a 1-station run sends, vend by vend, recorded
    from a centre selling on a copy of ``template``."""
    copy = template.with_name(template.stem + "-recording.sqlite")
    shutil.copyfile(template, copy)
    try:
        return record_sales(f"sqlite:///{copy}", meters)
    finally:
        copy.unlink()


def record_sales(url: str, meters: list[str]) -> list[Statements]:
    """The statements (SQL and DBAPI parameters) a 1-station run sends, vend by vend, recorded
    from a centre selling at ``url`` (prepared by :func:`prepared`; sold to, so a scratch copy).
    Each is recorded where the direct path hands it to the driver, after every conversion, so
    the replay sends the very same values."""
    recorded: list[Statements] = []
    run = direct.DirectTransaction._run

    def recording(tx: direct.DirectTransaction, prepared: direct.Prepared,
                  values: Any) -> None:
        fetch = prepared.sql.lstrip().startswith("SELECT") or " RETURNING " in prepared.sql
        recorded[-1].append((prepared.sql, prepared.parameters(values), fetch))
        run(tx, prepared, values)

    with open_billing(url) as centre:
        centre.vend(meters[0], loadgen.amount_for(0, 1), request_id="ST-0-warm-up",
                    station="ST-0", operator=loadgen.OPERATOR)
        direct.DirectTransaction._run = recording  # type: ignore[method-assign]
        try:
            for i, no in enumerate(meters[1:]):
                recorded.append([])
                centre.vend(no, loadgen.amount_for(i, 1), request_id=f"ST-0-{i}",
                            station="ST-0", operator=loadgen.OPERATOR)
        finally:
            direct.DirectTransaction._run = run  # type: ignore[method-assign]
    shapes = {tuple(sql for sql, _, _ in statements) for statements in recorded}
    if len(shapes) != 1 or not next(iter(shapes)):
        raise SystemExit("the recorded sales did not all take the direct path with the same "
                         f"statements ({len(shapes)} different shapes): no floor to replay")
    return recorded


def driver_statements(template: Path, meters: list[str]) -> list[str]:
    """What one plain sale sends to the SQLite driver, traced by the driver itself (expected:
    BEGIN IMMEDIATE, the context, the meter's sequence, the vend, its audit event, COMMIT —
    an ORM lazy load or autoflush creeping back shows here as a longer list)."""
    copy = template.with_name(template.stem + "-traced.sqlite")
    shutil.copyfile(template, copy)
    sent: list[str] = []
    with open_billing(f"sqlite:///{copy}") as centre:
        centre.vend(meters[0], loadgen.amount_for(0, 1), request_id="ST-0-warm-up",
                    station="ST-0", operator=loadgen.OPERATOR)  # reads the tariff once
        centre.engine.dispose()  # fresh connections, each traced by the driver
        event.listen(centre.engine, "connect",
                     lambda dbapi_connection, _record: dbapi_connection.set_trace_callback(
                         sent.append))
        centre.vend(meters[1], loadgen.amount_for(1, 1), request_id="ST-0-traced",
                    station="ST-0", operator=loadgen.OPERATOR)
    copy.unlink()
    return sent


def replay_connection(db: Path, synchronous: int) -> sqlite3.Connection:
    """A plain sqlite3 connection to ``db`` with the billing engine's pragmas."""
    con = sqlite3.connect(db, isolation_level=None)
    for pragma in ("foreign_keys=ON", "journal_mode=WAL", f"synchronous={synchronous}"):
        con.execute(f"PRAGMA {pragma}")
    return con


def replay(cur: sqlite3.Cursor, sales: list[Statements]) -> None:
    """Send the recorded statements of ``sales``, one transaction per sale."""
    for statements in sales:
        cur.execute("BEGIN IMMEDIATE")
        for sql, parameters, fetch in statements:
            cur.execute(sql, parameters)
            if fetch:
                cur.fetchone()
        cur.execute("COMMIT")


def sql_run(db: Path, recorded: list[Statements], synchronous: int, bare: Bare,
            chunk: int) -> tuple[float, float]:
    """Seconds spent replaying ``recorded`` on ``db`` with plain sqlite3 (one transaction per
    vend, the engine's pragmas), and in as many bare commits, chunk by chunk."""
    con = replay_connection(db, synchronous)
    cur = con.cursor()
    replaying = bare_s = 0.0
    for part in [recorded[k:k + chunk] for k in range(0, len(recorded), chunk)]:
        t0 = time.perf_counter()
        replay(cur, part)
        replaying += time.perf_counter() - t0
        bare_s += bare.time(len(part))
    con.close()
    return replaying, bare_s


def pg_sql_run(url: str, recorded: list[Statements], bare: Bare,
               chunk: int) -> tuple[float, float]:
    """Seconds spent replaying ``recorded`` with plain psycopg on the prepared database at
    ``url`` (one transaction per vend), and in as many bare commits, chunk by chunk."""
    con = _psycopg(url)
    cur = con.cursor()
    replaying = bare_s = 0.0
    for part in [recorded[k:k + chunk] for k in range(0, len(recorded), chunk)]:
        t0 = time.perf_counter()
        for statements in part:
            for sql, parameters, fetch in statements:
                cur.execute(sql, parameters)
                if fetch:
                    cur.fetchone()
            con.commit()
        replaying += time.perf_counter() - t0
        bare_s += bare.time(len(part))
    con.close()
    return replaying, bare_s


def side_by_side(template: Path, meters: list[str], recorded: list[Statements],
                 chunk: int) -> dict[str, float]:
    """rig's plain sale (in this process) vs its own statements (``recorded`` from a copy of
    ``template``) replayed by sqlite3, on two fresh copies of ``template``, in alternating
    chunks of ``chunk`` sales: seconds (wall and CPU) of each side in all, and the median of
    the chunks' ratios."""
    vends = len(recorded)
    rig_db = template.with_name(template.stem + "-rig.sqlite")
    sql_db = template.with_name(template.stem + "-sql.sqlite")
    shutil.copyfile(template, rig_db)
    shutil.copyfile(template, sql_db)
    keepers = [steady_wal(rig_db), steady_wal(sql_db)]
    centre = open_billing(f"sqlite:///{rig_db}")
    with centre.engine.connect() as conn:
        synchronous = int(conn.exec_driver_sql("PRAGMA synchronous").scalar_one())
    con = replay_connection(sql_db, synchronous)
    cur = con.cursor()
    rig: list[tuple[float, float]] = []  # (wall, CPU) of each chunk
    sql: list[tuple[float, float]] = []

    # What the station asks, made before the clock starts: the figure is the sale's, not the
    # load generator's.
    asks = [(meters[i + 1], loadgen.amount_for(i, 1), f"ST-0-{i}") for i in range(vends)]

    def timed(times: list[tuple[float, float]], first: int, last: int, sell: bool) -> None:
        w, c = time.perf_counter(), time.process_time()
        if sell:
            for meter_no, amount, request_id in asks[first:last]:
                centre.vend(meter_no, amount, request_id=request_id, station="ST-0",
                            operator=loadgen.OPERATOR)
        else:
            replay(cur, recorded[first:last])
        times.append((time.perf_counter() - w, time.process_time() - c))

    try:
        centre.vend(meters[0], loadgen.amount_for(0, 1), request_id="ST-0-warm-up",
                    station="ST-0", operator=loadgen.OPERATOR)
        for first in range(0, vends, chunk):
            last = min(first + chunk, vends)
            timed(rig, first, last, True)
            timed(sql, first, last, False)
    finally:
        centre.close()
        con.close()
        for keeper in keepers:
            keeper.close()
        rig_db.unlink()
        sql_db.unlink()
    return {"rig_s": sum(w for w, _ in rig), "rig_cpu_s": sum(c for _, c in rig),
            "sql_s": sum(w for w, _ in sql), "sql_cpu_s": sum(c for _, c in sql),
            "chunks_x": statistics.median(r / s for (r, _), (s, _) in zip(rig, sql,
                                                                            strict=True))}


def _postgres(vends: int, chunk: int) -> dict[str, float]:
    """The vend runs on a scratch PostgreSQL database, beside its bare commits, and the
    1-station run's own statements replayed by psycopg (empty if no PostgreSQL answers)."""
    if reachable(postgres_url()) is not None:
        return {}
    figures: dict[str, float] = {}
    for stations in (1, 4):
        name = f"{stations}_station{'s' if stations > 1 else ''}"
        with scratch_database(prefix="rig_bench") as url, \
                scratch_database(prefix="rig_bench_bare") as bare_url:
            bare = BarePostgres(bare_url)
            try:
                vending, bare_s, _ = vend_run(url, stations, prepared(url, stations, vends),
                                              bare, chunk)
            finally:
                bare.close()
        figures[f"pg_vends_per_s_{name}"] = round(vends / vending, 1)
        figures[f"pg_commits_per_vend_{name}"] = round(vending / bare_s, 2)
        figures[f"pg_bare_commits_per_s_{name}"] = round(vends / bare_s, 1)
    with scratch_database(prefix="rig_bench_rec") as url:
        recorded = record_sales(url, prepared(url, 1, vends))
    with scratch_database(prefix="rig_bench_sql") as url, \
            scratch_database(prefix="rig_bench_bare") as bare_url:
        prepared(url, 1, vends)  # the same rows and ids as where the sales were recorded
        bare = BarePostgres(bare_url)
        try:
            replaying, bare_s = pg_sql_run(url, recorded, bare, chunk)
        finally:
            bare.close()
    figures["pg_sql_alone_commits_per_vend"] = round(replaying / bare_s, 2)
    figures["pg_vend_x_sql_1_station"] = round(
        figures["pg_commits_per_vend_1_station"] / (replaying / bare_s), 2)
    return figures


def _median_run(runs: list[tuple[float, float]]) -> tuple[float, float]:
    return sorted(runs, key=lambda run: run[0] / run[1])[len(runs) // 2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vends", type=int, default=1000, help="vends per run")
    ap.add_argument("--chunk", type=int, default=100,
                    help="vends between two stretches of bare commits")
    ap.add_argument("--dir", type=Path, default=Path(__file__).resolve().parent)
    ap.add_argument("--rounds", type=int, default=5, help="runs per configuration")
    ap.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="billing-vend-", dir=args.dir))
    rows: dict[str, list[tuple[float, float]]] = {"1": [], "4": [], "sql": []}  # (work, bare)
    sides: list[dict[str, float]] = []  # rig's sale and its SQL side by side, per round
    lock_timeouts = 0
    try:
        with open_billing(f"sqlite:///{folder / 'probe.sqlite'}") as probe, \
                probe.engine.connect() as conn:
            synchronous = int(conn.exec_driver_sql("PRAGMA synchronous").scalar_one())
        templates = {n: folder / f"template{n}.sqlite" for n in (1, 4)}
        meters = {n: prepared(f"sqlite:///{templates[n]}", n, args.vends) for n in (1, 4)}
        recorded = record_statements(templates[1], meters[1])
        traced = driver_statements(templates[1], meters[1])
        bare = BareSqlite(folder / "bare.sqlite", synchronous)
        for r in range(args.rounds):
            for row in rows:
                db = folder / f"round{r}-{row}.sqlite"
                shutil.copyfile(templates[4 if row == "4" else 1], db)  # same start each run
                keeper = steady_wal(db)
                if row == "sql":
                    rows[row].append(sql_run(db, recorded, synchronous, bare, args.chunk))
                else:
                    n = int(row)
                    vending, bare_s, timeouts = vend_run(f"sqlite:///{db}", n, meters[n],
                                                         bare, args.chunk)
                    rows[row].append((vending, bare_s))
                    lock_timeouts += timeouts
                keeper.close()
            sides.append(side_by_side(templates[1], meters[1], recorded, args.chunk))
        bare.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    pg = {} if args.no_postgres else _postgres(args.vends, args.chunk)
    median = {row: _median_run(runs) for row, runs in rows.items()}
    # rig's sale against its own SQL replayed bare, side by side in alternating chunks, round
    # by round: the goal is ≤ 1.5
    vend_x_sql = [side["rig_s"] / side["sql_s"] for side in sides]
    cpu_x_sql = [side["rig_cpu_s"] / side["sql_cpu_s"] for side in sides]
    middle = sorted(sides, key=lambda side: side["rig_s"] / side["sql_s"])[len(sides) // 2]
    bare_rates = [args.vends / b for runs in rows.values() for _, b in runs]
    figures = {
        "bare_commits_per_s": round(statistics.median(bare_rates), 1),
        "vends_per_s_1_station": round(args.vends / median["1"][0], 1),
        "vends_per_s_4_stations": round(args.vends / median["4"][0], 1),
        "commits_per_vend_1_station": round(median["1"][0] / median["1"][1], 2),
        "commits_per_vend_4_stations": round(median["4"][0] / median["4"][1], 2),
        "commits_per_vend_1_station_max": round(max(w / b for w, b in rows["1"]), 2),
        "commits_per_vend_4_stations_max": round(max(w / b for w, b in rows["4"]), 2),
        "sql_alone_commits_per_vend": round(median["sql"][0] / median["sql"][1], 2),
        "vend_x_sql": round(statistics.median(vend_x_sql), 2),
        "vend_x_sql_max": round(max(vend_x_sql), 2),
        "vend_x_sql_median_chunk": round(statistics.median(s["chunks_x"] for s in sides), 2),
        "vend_cpu_x_sql": round(statistics.median(cpu_x_sql), 2),
        "vend_ms": round(1000 * middle["rig_s"] / args.vends, 3),
        "vend_cpu_ms": round(1000 * middle["rig_cpu_s"] / args.vends, 3),
        "vend_sql_ms": round(1000 * middle["sql_s"] / args.vends, 3),
        "vend_sql_cpu_ms": round(1000 * middle["sql_cpu_s"] / args.vends, 3),
        "lock_timeouts_4_stations": lock_timeouts,
        "sqlite_synchronous": synchronous,
        "driver_statements_per_plain_sale": len(traced),
        "vends": args.vends,
        "rounds": args.rounds,
        **pg,
    }
    print(f"disk: {args.dir} (SQLite WAL, synchronous={synchronous}); {args.rounds} rounds of "
          f"{args.vends} vends, each chunk of {args.chunk} followed by as many bare commits")
    for row, label in (("1", "1 station"), ("4", "4 stations"), ("sql", "SQL alone")):
        runs = rows[row]
        w, b = median[row]
        print(f"{label:<11} bare commits/s " + " ".join(f"{args.vends / b:>7.0f}"
                                                       for _, b in runs))
        print(f"{'':<11} vends/s        " + " ".join(f"{args.vends / w:>7.0f}" for w, _ in runs))
        print(f"{'':<11} commits/vend   " + " ".join(f"{w / b:>7.2f}" for w, b in runs)
              + f"   median {w / b:.2f}"
              + ("" if row == "sql" else f" (goal ≤ 3: {'met' if w / b <= 3 else 'NOT met'})"))
    print("rig's sale / its SQL replayed bare, side by side (per round): wall "
          + " ".join(f"{x:.2f}" for x in vend_x_sql) + ", CPU "
          + " ".join(f"{x:.2f}" for x in cpu_x_sql)
          + f"; median {statistics.median(vend_x_sql):.2f} (goal ≤ {GOAL_VEND_X_SQL}: "
          + ("met" if statistics.median(vend_x_sql) <= GOAL_VEND_X_SQL else "NOT met")
          + f"); middle round: sale {1000 * middle['rig_s'] / args.vends:.3f} ms "
          f"({1000 * middle['rig_cpu_s'] / args.vends:.3f} ms CPU), its SQL "
          f"{1000 * middle['sql_s'] / args.vends:.3f} ms "
          f"({1000 * middle['sql_cpu_s'] / args.vends:.3f} ms CPU)")
    print(f"a plain sale at the SQLite driver: {len(traced)} statements: "
          + ", ".join(" ".join(t.split()[:3]) for t in traced))
    print(f"4 stations: {lock_timeouts} lock wait(s) outlasted the lock wait (retried); "
          "SQL alone: the 1-station run's statements replayed by sqlite3, no Python logic")
    if pg:
        print("PostgreSQL: vends/s 1 station "
              f"{pg['pg_vends_per_s_1_station']:.1f} (= {pg['pg_commits_per_vend_1_station']:.2f} "
              f"bare PG commits), 4 stations {pg['pg_vends_per_s_4_stations']:.1f} "
              f"(= {pg['pg_commits_per_vend_4_stations']:.2f}); SQL alone (psycopg) "
              f"{pg['pg_sql_alone_commits_per_vend']:.2f} bare PG commits: rig's sale "
              f"{pg['pg_vend_x_sql_1_station']:.2f}x its SQL")
    else:
        print("PostgreSQL: not measured (" + ("--no-postgres" if args.no_postgres else
                                            str(reachable(postgres_url()))) + ")")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
