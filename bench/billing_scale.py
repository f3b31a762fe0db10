"""Does a meter's history slow the centre down? One readback's time and evidence size, and one
sale's time, at H = 10, 1,000 and 10,000 vends of history — side by side in one run — and the
sale against its own SQL replayed bare.

Run from the repo root: ``.venv/bin/python bench/billing_scale.py [--history 10,1000,10000]
[--timed N] [--vends N]``.

One meter's history is built through the centre itself, as a station and an exact meter make
it: a sale, its card marked written, and the readback the meter signs once it applied it (the
centre sells no more until then; balanced: the meter drew 50 Wh per sale). The bench clock moves an
hour per sale, so a month holds ~720 of them. When the history reaches each H, ``--timed``
more rounds of (sale, written, readback) are timed: the readback's ``ingest_readback`` (goal:
flat in H), the JSON size of the evidence it stores (goal: flat), and the sale (its monthly
sums and unapplied-purchase checks: goal flat).

The vend row (goal ≤ 1.5×) is :mod:`billing_vend`'s: a 1-station run of plain sales against
the very statements that run sent, replayed by ``sqlite3`` with no Python logic, each on a
fresh copy of the same prepared database. Prints a table and, last, one flat JSON line.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout, uninstalled

import billing_vend  # noqa: E402  (bench/, beside this script)

from rig.billing import CreditUnit, ReadbackData, open_billing  # noqa: E402
from rig.sim.meter_readback import meter_readback  # noqa: E402
from rig.station import loadgen  # noqa: E402

warnings.filterwarnings("ignore", message="Dialect sqlite.*Decimal objects natively")
T0 = datetime(2024, 1, 1, tzinfo=UTC)
METER = "000000000042"
WH_PER_SALE = 50  # 1 cent at the bench tariff's 0.2000 per kWh: the meter stays exact
GOAL_VEND_X_SQL = 1.5


class Clock:
    """The centre's clock: an hour further for every sale."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class ExactMeter:
    """What the meter holds after applying every sale and drawing ``WH_PER_SALE`` per sale."""

    def __init__(self) -> None:
        self.sequence = self.purchased = self.energy_wh = 0

    def apply(self, sequence: int, credit: int) -> None:
        self.sequence, self.purchased = sequence, self.purchased + credit
        self.energy_wh += WH_PER_SALE

    def readback(self, at: datetime) -> bytes:
        used_cents = self.energy_wh * 2 // 100  # 0.2000/kWh: 0.02 cent per Wh, exact here
        data = ReadbackData(
            meter_no=METER, energy_wh=self.energy_wh, remaining=self.purchased - used_cents,
            overdraft=0, purchase_count=self.sequence, last_sequence=self.sequence,
            cumulative_purchase=self.purchased, credit_unit=CreditUnit.MONEY_CENTS,
            relay_open=False, alarm_active=False, alarm_count=0, cutoff_count=0,
            tamper_count=0, power_down_count=0, timestamp=at, tariff_version=1)
        return meter_readback(data, key_revision=1)


class History:
    """One meter's history in a centre, grown sale by sale."""

    def __init__(self, url: str) -> None:
        self.clock = Clock()
        self.centre = open_billing(url, clock=self.clock)
        loadgen.prepare(self.centre, meters=[METER], stations=["DESK-1"])
        self.meter = ExactMeter()
        self.sales = 0

    def sell(self) -> float:
        """One sale and its card written; the sale's seconds."""
        self.clock.now += timedelta(hours=1)
        t0 = time.perf_counter()
        v = self.centre.vend(METER, loadgen.amount_for(self.sales, 7),
                             request_id=f"sale-{self.sales}", station="DESK-1",
                             operator=loadgen.OPERATOR)
        took = time.perf_counter() - t0
        self.centre.mark_written(v.vend_id)
        self.meter.apply(v.sequence, v.credit)
        self.sales += 1
        return took

    def read_back(self) -> tuple[float, int, str]:
        """The meter's readback uploaded: seconds, evidence bytes, verdict."""
        raw = self.meter.readback(self.clock.now)
        t0 = time.perf_counter()
        result = self.centre.ingest_readback(raw=raw)
        took = time.perf_counter() - t0
        size = len(json.dumps(result.evidence, sort_keys=True, separators=(",", ":")))
        return took, size, result.verdict.value

    def grow_to(self, h: int) -> None:
        while self.sales < h:
            self.sell()
            self.read_back()


def scale_rows(history: list[int], timed: int, folder: Path,
               profile: Path | None) -> dict[int, dict[str, float]]:
    """Per H: median readback seconds, evidence bytes, median sale seconds."""
    h = History(f"sqlite:///{folder / 'scale.sqlite'}")
    rows: dict[int, dict[str, float]] = {}
    try:
        for target in history:
            h.grow_to(target)
            ingest_s, sale_s, sizes, verdicts = [], [], [], set()
            profiler = cProfile.Profile() if profile and target == history[-1] else None
            for _ in range(timed):
                sale_s.append(h.sell())
                if profiler:
                    profiler.enable()
                took, size, verdict = h.read_back()
                if profiler:
                    profiler.disable()
                ingest_s.append(took)
                sizes.append(size)
                verdicts.add(verdict)
            if verdicts != {"balanced"}:
                raise SystemExit(f"the exact meter did not balance at H={target}: {verdicts}")
            if profiler and profile:
                profiler.dump_stats(profile)
            rows[target] = {"readback_ms": 1000 * statistics.median(ingest_s),
                            "evidence_bytes": max(sizes),
                            "sale_ms": 1000 * statistics.median(sale_s)}
    finally:
        h.centre.close()
    return rows


def vend_row(vends: int, rounds: int, folder: Path) -> tuple[float, float, list[float]]:
    """rig's plain sale vs its own statements replayed by sqlite3: median seconds per run of
    ``vends`` sales each, and the per-round ratios."""
    url_template = folder / "vend-template.sqlite"
    meters = billing_vend.prepared(f"sqlite:///{url_template}", 1, vends)
    recorded = billing_vend.record_statements(url_template, meters)
    with open_billing(f"sqlite:///{folder / 'probe.sqlite'}") as probe, \
            probe.engine.connect() as conn:
        synchronous = int(conn.exec_driver_sql("PRAGMA synchronous").scalar_one())
    bare = billing_vend.BareSqlite(folder / "bare.sqlite", synchronous)
    rig_s, sql_s, ratios = [], [], []
    try:
        for r in range(rounds):
            runs = {}
            for row in ("rig", "sql"):  # the same start each run, one after the other
                db = folder / f"vend-{r}-{row}.sqlite"
                shutil.copyfile(url_template, db)
                keeper = billing_vend.steady_wal(db)
                if row == "sql":
                    runs[row] = billing_vend.sql_run(db, recorded, synchronous, bare, vends)[0]
                else:
                    runs[row] = billing_vend.vend_run(f"sqlite:///{db}", 1, meters, bare,
                                                      vends)[0]
                keeper.close()
            rig_s.append(runs["rig"])
            sql_s.append(runs["sql"])
            ratios.append(runs["rig"] / runs["sql"])
    finally:
        bare.close()
    return statistics.median(rig_s), statistics.median(sql_s), ratios


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--history", default="10,1000,10000",
                    help="history sizes (vends), ascending, comma-separated")
    ap.add_argument("--timed", type=int, default=20, help="timed rounds per history size")
    ap.add_argument("--vends", type=int, default=500, help="sales per run of the vend row")
    ap.add_argument("--rounds", type=int, default=5, help="runs of the vend row")
    ap.add_argument("--profile", type=Path, help="cProfile of the largest H's readbacks here")
    ap.add_argument("--dir", type=Path, default=Path(__file__).resolve().parent)
    args = ap.parse_args()
    history = sorted(int(x) for x in args.history.split(","))
    folder = Path(tempfile.mkdtemp(prefix="billing-scale-", dir=args.dir))
    try:
        t0 = time.perf_counter()
        rows = scale_rows(history, args.timed, folder, args.profile)
        built = time.perf_counter() - t0
        rig_s, sql_s, ratios = vend_row(args.vends, args.rounds, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"one meter, its history grown through the centre (sale, written, readback; {built:.0f}"
          f" s in all); {args.timed} timed rounds per H")
    print(f"{'H (vends)':>10} {'readback ms':>12} {'evidence B':>11} {'sale ms':>8}")
    for target, row in rows.items():
        print(f"{target:>10} {row['readback_ms']:>12.2f} {row['evidence_bytes']:>11.0f} "
              f"{row['sale_ms']:>8.2f}")
    first, last = rows[history[0]], rows[history[-1]]
    growth = {k: last[k] / first[k] for k in first}
    print(f"H={history[-1]} vs H={history[0]}: readback {growth['readback_ms']:.2f}x, evidence "
          f"{growth['evidence_bytes']:.2f}x, sale {growth['sale_ms']:.2f}x (goal: flat)")
    ratio = rig_s / sql_s
    print(f"vend: rig's sale {1000 * rig_s / args.vends:.2f} ms vs its SQL replayed bare "
          f"{1000 * sql_s / args.vends:.2f} ms = {ratio:.2f}x (rounds "
          + " ".join(f"{r:.2f}" for r in ratios)
          + f"; goal ≤ {GOAL_VEND_X_SQL}: {'met' if ratio <= GOAL_VEND_X_SQL else 'NOT met'})")
    figures: dict[str, float] = {}
    for target, row in rows.items():
        figures[f"readback_ms_h{target}"] = round(row["readback_ms"], 3)
        figures[f"evidence_bytes_h{target}"] = row["evidence_bytes"]
        figures[f"sale_ms_h{target}"] = round(row["sale_ms"], 3)
    figures |= {"readback_growth": round(growth["readback_ms"], 2),
                "evidence_growth": round(growth["evidence_bytes"], 2),
                "sale_growth": round(growth["sale_ms"], 2),
                "vend_ms": round(1000 * rig_s / args.vends, 3),
                "vend_sql_ms": round(1000 * sql_s / args.vends, 3),
                "vend_x_sql": round(ratio, 2)}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
