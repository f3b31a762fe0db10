"""The billing kill campaign: 1,000 vends with the vending process SIGKILLed at random points.

Run from the repo root: ``.venv/bin/python bench/billing_kill.py [--vends N] [--seed S]``.
Uses :func:`rig.faults.billing_kill.run_kill_campaign` on a fresh SQLite file and prints how
many times the process was killed and what the ledger looked like afterwards (every count but
``cases``, ``restarts``, ``vends``, ``bank_payments`` and ``audit_intact`` must be 0). Ends
with one flat JSON line.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from rig.faults.billing_kill import run_kill_campaign

warnings.filterwarnings("ignore", message="Dialect sqlite.*Decimal objects natively")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vends", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--dir", type=Path, default=Path(__file__).resolve().parent)
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="billing-kill-", dir=args.dir))
    try:
        t0 = time.perf_counter()
        figures = run_kill_campaign(args.vends, f"sqlite:///{folder / 'kill.sqlite'}", args.seed)
        elapsed = time.perf_counter() - t0
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    for name, value in figures.items():
        print(f"{name:<24}{value:>8}")
    bad = sum(figures[k] for k in ("lost", "duplicated", "gaps", "partial",
                                   "bank_double_applied"))
    verdict = "PASS" if bad == 0 and figures["audit_intact"] == 1 else "FAIL"
    print(f"{'verdict':<24}{verdict:>8}   ({elapsed:.0f} s)")
    print(json.dumps({**figures, "seconds": round(elapsed, 1), "pass": int(verdict == "PASS")}))


if __name__ == "__main__":
    main()
