"""The billing kill campaign: vending stations SIGKILLed at random points, one and several.

Run from the repo root: ``.venv/bin/python bench/billing_kill.py [--vends N] [--stations S]``.
Uses :func:`rig.faults.billing_kill.run_kill_campaign` three times: one station on a fresh
SQLite file (1,000 vends), then ``--stations`` concurrent stations vending for the same few
meters on a fresh SQLite file and on a scratch PostgreSQL database (skipped, and said so, when
no server answers). Prints one row per run: vends, kills, lost, duplicated, answers that
disagree with the ledger, sequence gaps, partial vends, double-applied bank payments, audit
chain intact, seconds — every count but vends, kills and audit must be 0. Ends with one flat
JSON line (``<run>_<figure>``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from rig.billing.postgres import reachable, scratch_database
from rig.faults.billing_kill import run_kill_campaign

warnings.filterwarnings("ignore", message="Dialect sqlite.*Decimal objects natively")
BAD = ("lost", "duplicated", "ack_mismatch", "gaps", "partial", "bank_double_applied")
COLUMNS = ("stations", "vends", "cases", *BAD, "audit_intact")
HEADS = ("stations", "vends", "kills", "lost", "dup", "ack≠", "gaps", "partial", "bank×2",
         "audit")


@contextlib.contextmanager
def sqlite_url(folder: Path) -> Iterator[str]:
    where = Path(tempfile.mkdtemp(prefix="billing-kill-", dir=folder))
    try:
        yield f"sqlite:///{where / 'kill.sqlite'}"
    finally:
        shutil.rmtree(where, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vends", type=int, default=1000, help="vends per run")
    ap.add_argument("--stations", type=int, default=4, help="stations in the concurrent runs")
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--dir", type=Path, default=Path(__file__).resolve().parent,
                    help="where the SQLite files go (the disk under test)")
    args = ap.parse_args()
    runs = [("single_sqlite", 1, lambda: sqlite_url(args.dir)),
            ("concurrent_sqlite", args.stations, lambda: sqlite_url(args.dir))]
    why_not = reachable()
    if why_not is None:
        runs.append(("concurrent_postgresql", args.stations,
                     lambda: scratch_database(prefix="rig_bench_kill")))
    out: dict[str, float] = {}
    print(f"{'run':<24}" + "".join(f"{h:>9}" for h in HEADS) + f"{'seconds':>9}", flush=True)
    for name, stations, database in runs:
        t0 = time.perf_counter()
        with database() as url:
            figures = run_kill_campaign(args.vends, url, args.seed, stations=stations)
        elapsed = time.perf_counter() - t0
        print(f"{name:<24}" + "".join(f"{figures[c]:>9}" for c in COLUMNS)
              + f"{elapsed:>9.0f}", flush=True)
        ok = all(figures[k] == 0 for k in BAD) and figures["audit_intact"] == 1
        out |= {f"{name}_{k}": v for k, v in figures.items()}
        out |= {f"{name}_seconds": round(elapsed, 1), f"{name}_pass": int(ok)}
    if why_not is not None:
        print(f"concurrent_postgresql skipped: {why_not}")
    passed = all(out[f"{name}_pass"] for name, *_ in runs)
    print(f"verdict: {'PASS' if passed else 'FAIL'} (lost, dup, ack≠, gaps, partial, bank×2 "
          "must be 0 and audit 1 in every run)")
    print(json.dumps({**out, "pass": int(passed)}))


if __name__ == "__main__":
    main()
