"""The mutant campaign's figures: how many known meter defects the certification suite kills.

Run from the repo root: ``.venv/bin/python bench/mutants.py [--profile NAME]... [--jobs N]
[--own-only | --full] [--out DIR]``. For each profile (default: every shipped one) the
certification suite runs on the reference meter and on every mutant meter that applies
(rig.sim.defects), `--jobs` emulated benches at a time. A mutant runs its own requirement's
scenario first and stops at its first kill (the rest of its row is "not run after kill");
`--full` runs every scenario on every mutant (the whole matrix, several times slower);
`--own-only` runs each mutant against its own requirement's scenario only (the fast sample).
Prints the survivors and, last, one line of flat JSON (name -> number) for CI to parse:
mutants, killed, survived, mutation score (%), scenarios, scenarios killing none, wall time,
and per profile its mutants, killed, score, scenarios killing none, wall time and the
machine's 1-minute load average when it finished (the machine may be shared).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from rig.profile import available_profiles, load_profile
from rig.suites.mutants import MutantRun, run_campaign


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", action="append", help="profile (repeatable; default: all)")
    ap.add_argument("--jobs", type=int, default=2, help="emulated benches at a time")
    ap.add_argument("--own-only", action="store_true",
                    help="each mutant against its own requirement's scenario only")
    ap.add_argument("--full", action="store_true",
                    help="every scenario on every mutant (no stop at the first kill)")
    ap.add_argument("--out", type=Path, default=None, help="keep the runs here")
    args = ap.parse_args()
    names = args.profile or available_profiles(None)
    out = args.out or Path(tempfile.mkdtemp(prefix="rig-mutants-"))
    started = time.monotonic()
    totals = {"mutants": 0, "killed": 0, "survived": 0, "scenarios": 0,
              "scenarios_killing_none": 0, "scenarios_failing_on_reference": 0}
    figures: dict[str, float] = {}

    def show(run: MutantRun) -> None:
        verdict = "killed" if run.killed else ("ERROR " + run.error if run.error else "SURVIVED")
        if run.defect == "reference":
            verdict = ", ".join(f"{r}: {o}" for r, o in sorted(run.outcomes.items()))
        print(f"  {run.defect:34} {verdict}", flush=True)

    for name in names:
        profile = load_profile(name)
        print(f"{name}: certification suite on the reference meter and each mutant", flush=True)
        matrix = run_campaign(profile, out / name, jobs=args.jobs, own_only=args.own_only,
                              full=args.full, progress=show)
        data = matrix.to_dict()
        print(f"  score {data['mutation_score']:.1%}  survived: {data['survived'] or '-'}  "
              f"scenarios killing none: {data['scenarios_killing_none'] or '-'}  "
              f"wall {matrix.wall_s:.0f} s  → {out / name / 'kill-matrix.json'}")
        totals["mutants"] += len(matrix.mutants)
        totals["killed"] += len(matrix.killed)
        totals["survived"] += len(matrix.survived)
        totals["scenarios"] += len(matrix.scenarios)
        totals["scenarios_killing_none"] += len(data["scenarios_killing_none"])
        totals["scenarios_failing_on_reference"] += len(matrix.broken)
        figures[f"{name}_mutants"] = len(matrix.mutants)
        figures[f"{name}_killed"] = len(matrix.killed)
        figures[f"{name}_score_pct"] = round(100 * matrix.score, 1)
        figures[f"{name}_scenarios_killing_none"] = len(data["scenarios_killing_none"])
        figures[f"{name}_wall_s"] = round(matrix.wall_s, 1)
        figures[f"{name}_load_avg_1m"] = round(os.getloadavg()[0], 1)  # how shared the run was
    score = totals["killed"] / totals["mutants"] if totals["mutants"] else 0.0
    print(json.dumps({**totals, "mutation_score_pct": round(100 * score, 1), **figures,
                      "own_only": int(args.own_only), "full": int(args.full),
                      "wall_s": round(time.monotonic() - started, 1)}))


if __name__ == "__main__":
    main()
