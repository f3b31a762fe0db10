"""Does a meter's history slow the centre down? One readback's time and evidence size, and one
sale's time, at H = 10, 1,000 and 10,000 vends of history — side by side in one run — and the
sale against its own SQL replayed bare.

Run from the repo root: ``.venv/bin/python bench/billing_scale.py [--history 10,1000,10000]
[--timed N] [--vends N]``.

One centre, one meter per H. Each meter's history is built through the centre itself, as a
station and an exact meter make it: a sale, its card marked written, and the readback the
meter signs once it applied it (the centre sells no more until then; balanced: the meter drew
50 Wh per sale). The bench clock moves an hour per sale, so a month holds ~720 of them. Then
``--timed`` rounds go round the meters in turn — a sale and its readback on each — so every
H is timed under the same load: the readback's ``ingest_readback`` (goal: flat in H), the
JSON size of the evidence it stores (goal: flat) and the sale (its monthly sums and
unapplied-purchase search: goal flat). Wall and CPU time (``time.process_time``: SQLite runs
in this process) are both shown; on a busy machine only CPU time is steady.

The vend row (goal ≤ 1.5×): plain sales by rig on one copy of a prepared database against
the very statements such sales send (recorded as in :mod:`billing_vend`), replayed by
``sqlite3`` with no Python logic on another copy, in alternating chunks. Prints a table and,
last, one flat JSON line.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout, uninstalled

import billing_vend  # noqa: E402  (bench/, beside this script)

from rig.billing import CreditUnit, ReadbackData, open_billing  # noqa: E402
from rig.sim.meter_readback import meter_readback  # noqa: E402
from rig.station import loadgen  # noqa: E402

warnings.filterwarnings("ignore", message="Dialect sqlite.*Decimal objects natively")
T0 = datetime(2024, 1, 1, tzinfo=UTC)
WH_PER_SALE = 50  # 1 cent at the bench tariff's 0.2000 per kWh: the meter stays exact
GOAL_VEND_X_SQL = billing_vend.GOAL_VEND_X_SQL


class Clock:
    """The centre's clock: an hour further for every sale."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class ExactMeter:
    """What a meter holds after applying every sale and drawing ``WH_PER_SALE`` per sale."""

    def __init__(self, meter_no: str) -> None:
        self.meter_no = meter_no
        self.sequence = self.purchased = self.energy_wh = self.sales = 0

    def apply(self, sequence: int, credit: int) -> None:
        self.sequence, self.purchased = sequence, self.purchased + credit
        self.energy_wh += WH_PER_SALE
        self.sales += 1

    def readback(self, at: datetime) -> bytes:
        used_cents = self.energy_wh * 2 // 100  # 0.2000/kWh: 0.02 cent per Wh, exact here
        data = ReadbackData(
            meter_no=self.meter_no, energy_wh=self.energy_wh,
            remaining=self.purchased - used_cents, overdraft=0, purchase_count=self.sequence,
            last_sequence=self.sequence, cumulative_purchase=self.purchased,
            credit_unit=CreditUnit.MONEY_CENTS, relay_open=False, alarm_active=False,
            alarm_count=0, cutoff_count=0, tamper_count=0, power_down_count=0, timestamp=at,
            tariff_version=1)
        return meter_readback(data, key_revision=1)


class Timing:
    """Wall and CPU seconds of one call."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def __call__(self, fn: Any, *args: Any, **kw: Any) -> Any:
        w, c = time.perf_counter(), time.process_time()
        out = fn(*args, **kw)
        self.cpu.append(time.process_time() - c)
        self.wall.append(time.perf_counter() - w)
        return out


class Centre:
    """One centre with one meter per history size, each grown sale by sale."""

    def __init__(self, url: str, history: list[int]) -> None:
        self.clock = Clock()
        self.centre = open_billing(url, clock=self.clock)
        numbers = loadgen.meter_numbers(len(history))
        loadgen.prepare(self.centre, meters=numbers, stations=["DESK-1"])
        self.meters = {h: ExactMeter(no) for h, no in zip(history, numbers, strict=True)}

    def sell(self, meter: ExactMeter, timing: Timing | None = None) -> None:
        """One sale and its card written."""
        self.clock.now += timedelta(hours=1)
        args = (meter.meter_no, loadgen.amount_for(meter.sales, 7))
        kw = {"request_id": f"{meter.meter_no}-{meter.sales}", "station": "DESK-1",
              "operator": loadgen.OPERATOR}
        v = timing(self.centre.vend, *args, **kw) if timing else self.centre.vend(*args, **kw)
        self.centre.mark_written(v.vend_id)
        meter.apply(v.sequence, v.credit)

    def read_back(self, meter: ExactMeter, timing: Timing | None = None) -> tuple[int, str]:
        """The meter's readback uploaded: evidence bytes, verdict."""
        raw = meter.readback(self.clock.now)
        call = self.centre.ingest_readback
        result = timing(call, raw=raw) if timing else call(raw=raw)
        size = len(json.dumps(result.evidence, sort_keys=True, separators=(",", ":")))
        return size, result.verdict.value

    def grow(self) -> None:
        for target, meter in self.meters.items():
            while meter.sales < target:
                self.sell(meter)
                self.read_back(meter)


def scale_rows(history: list[int], timed: int, folder: Path) -> dict[int, dict[str, float]]:
    """Per H: median readback and sale wall/CPU milliseconds, largest evidence bytes."""
    c = Centre(f"sqlite:///{folder / 'scale.sqlite'}", history)
    try:
        c.grow()
        readback = {h: Timing() for h in history}
        sale = {h: Timing() for h in history}
        sizes: dict[int, list[int]] = {h: [] for h in history}
        for _ in range(timed):
            for h, meter in c.meters.items():  # every H under the same load
                c.sell(meter, sale[h])
                size, verdict = c.read_back(meter, readback[h])
                if verdict != "balanced":
                    raise SystemExit(f"the exact meter did not balance at H={h}: {verdict}")
                sizes[h].append(size)
    finally:
        c.centre.close()
    return {h: {"readback_ms": 1000 * statistics.median(readback[h].wall),
                "readback_cpu_ms": 1000 * statistics.median(readback[h].cpu),
                "evidence_bytes": max(sizes[h]),
                "sale_ms": 1000 * statistics.median(sale[h].wall),
                "sale_cpu_ms": 1000 * statistics.median(sale[h].cpu)} for h in history}


def vend_row(vends: int, chunk: int, folder: Path) -> dict[str, float]:
    """rig's plain sale vs its own statements replayed by sqlite3, alternating chunks
    (:func:`billing_vend.side_by_side`): seconds (wall, CPU) of each side in all."""
    template = folder / "vend-template.sqlite"
    meters = billing_vend.prepared(f"sqlite:///{template}", 1, vends)
    return billing_vend.side_by_side(template, meters,
                                     billing_vend.record_statements(template, meters), chunk)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--history", default="10,1000,10000",
                    help="history sizes (vends), comma-separated")
    ap.add_argument("--timed", type=int, default=20, help="timed rounds per history size")
    ap.add_argument("--vends", type=int, default=1000, help="sales of the vend row")
    ap.add_argument("--chunk", type=int, default=50, help="vend row: sales per chunk")
    ap.add_argument("--dir", type=Path, default=Path(__file__).resolve().parent)
    args = ap.parse_args()
    history = sorted(int(x) for x in args.history.split(","))
    folder = Path(tempfile.mkdtemp(prefix="billing-scale-", dir=args.dir))
    try:
        t0 = time.perf_counter()
        rows = scale_rows(history, args.timed, folder)
        built = time.perf_counter() - t0
        vend = vend_row(args.vends, args.chunk, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"one meter per H, its history grown through the centre (sale, written, readback; "
          f"{built:.0f} s in all); {args.timed} timed rounds, the meters in turn")
    print(f"{'H (vends)':>10} {'readback ms':>12} {'(CPU ms)':>9} {'evidence B':>11} "
          f"{'sale ms':>8} {'(CPU ms)':>9}")
    for target, row in rows.items():
        print(f"{target:>10} {row['readback_ms']:>12.2f} {row['readback_cpu_ms']:>9.2f} "
              f"{row['evidence_bytes']:>11.0f} {row['sale_ms']:>8.2f} {row['sale_cpu_ms']:>9.2f}")
    first, last = rows[history[0]], rows[history[-1]]
    growth = {k: last[k] / first[k] for k in first}
    print(f"H={history[-1]} vs H={history[0]}: readback {growth['readback_ms']:.2f}x "
          f"(CPU {growth['readback_cpu_ms']:.2f}x), evidence {growth['evidence_bytes']:.2f}x, "
          f"sale {growth['sale_ms']:.2f}x (CPU {growth['sale_cpu_ms']:.2f}x) (goal: flat)")
    ratio, cpu_ratio = vend["rig_s"] / vend["sql_s"], vend["rig_cpu_s"] / vend["sql_cpu_s"]
    print(f"vend: rig's sale {1000 * vend['rig_s'] / args.vends:.2f} ms "
          f"({1000 * vend['rig_cpu_s'] / args.vends:.2f} ms CPU) vs its SQL replayed bare "
          f"{1000 * vend['sql_s'] / args.vends:.2f} ms ({1000 * vend['sql_cpu_s'] / args.vends:.2f}"
          f" ms CPU) = {ratio:.2f}x wall, median chunk {vend['chunks_x']:.2f}x, {cpu_ratio:.2f}x "
          f"CPU (goal ≤ {GOAL_VEND_X_SQL}: {'met' if ratio <= GOAL_VEND_X_SQL else 'NOT met'})")
    figures: dict[str, float] = {}
    for target, row in rows.items():
        for key, value in row.items():
            figures[f"{key}_h{target}"] = round(value, 3)
    figures |= {"readback_growth": round(growth["readback_ms"], 2),
                "readback_cpu_growth": round(growth["readback_cpu_ms"], 2),
                "evidence_growth": round(growth["evidence_bytes"], 2),
                "sale_growth": round(growth["sale_ms"], 2),
                "sale_cpu_growth": round(growth["sale_cpu_ms"], 2),
                "vend_ms": round(1000 * vend["rig_s"] / args.vends, 3),
                "vend_sql_ms": round(1000 * vend["sql_s"] / args.vends, 3),
                "vend_x_sql": round(ratio, 2), "vend_x_sql_median_chunk": round(
                    vend["chunks_x"], 2), "vend_cpu_x_sql": round(cpu_ratio, 2)}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
