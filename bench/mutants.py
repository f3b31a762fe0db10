"""The mutant campaign's figures: how many known meter defects the certification suite kills.

Run from the repo root: ``.venv/bin/python bench/mutants.py [--profile NAME]... [--jobs N]
[--select NAMES] [--own-only | --full] [--cold] [--out DIR]``. For each profile (default:
every shipped one) the certification suite runs on the reference meter and on every mutant
meter that applies (rig.sim.defects; `--select`: only those named, comma-separated names or
shell patterns), `--jobs` emulated benches at a time, each bench slot a warm worker that
forks a child per run (rig.suites.mutant_worker; `--cold`: a new interpreter per run, as
before it). A mutant runs its own requirement's scenario first and stops at its first kill
(the rest of its row is "not run after kill"); `--full` runs every scenario on every mutant
(the whole matrix, several times slower); `--own-only` runs each mutant against its own
requirement's scenario only (the fast sample).

`--compare` measures the fixed cost per mutant instead, side by side in one run: the selected
mutants one at a time, each run cold (a new interpreter) and then warm (a child of one warm
worker), with each run's wall and CPU time (no reference run, no matrix).

Prints the survivors and, last, one line of flat JSON (name -> number) for CI to parse:
mutants, killed, survived, mutation score (%), scenarios, scenarios killing none, wall time,
CPU time (user + system of every process the campaign started), and per profile its mutants,
killed, score, scenarios killing none, wall and CPU time and the machine's 1-minute load
average when it finished (the machine may be shared).
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

from rig.profile import MeterProfile, available_profiles, load_profile
from rig.suites.mutant_worker import Worker
from rig.suites.mutants import MutantRun, run_campaign, run_certification, select_defects


def compare(profile: MeterProfile, select: str | None, out: Path) -> dict[str, float]:
    """Each selected mutant run cold, then warm, one at a time: the fixed cost per mutant."""
    defects = select_defects(profile, select)
    started = time.monotonic()
    worker = Worker()
    print(f"{profile.name}: warm worker ready in {time.monotonic() - started:.2f} s "
          f"(forking: {worker.ready})", flush=True)
    runs: dict[str, list[MutantRun]] = {"cold": [], "warm": []}
    try:
        for d in defects:
            for mode in ("cold", "warm"):
                run = run_certification(profile, d, out / mode / d.name, stop_at_kill=True,
                                        worker=worker if mode == "warm" else None)
                runs[mode].append(run)
                print(f"  {mode} {d.name:34} wall {run.wall_s:5.2f} s  cpu {run.cpu_s:5.2f} s  "
                      f"{'killed' if run.killed else 'SURVIVED ' + run.error}", flush=True)
    finally:
        worker.close()
    n = max(1, len(defects))
    figures = {"mutants": len(defects)}
    for mode, done in runs.items():
        figures[f"{mode}_wall_per_mutant_s"] = round(sum(r.wall_s for r in done) / n, 2)
        figures[f"{mode}_cpu_per_mutant_s"] = round(sum(r.cpu_s for r in done) / n, 2)
        figures[f"{mode}_killed"] = sum(r.killed for r in done)
    for what in ("wall", "cpu"):
        warm = figures[f"warm_{what}_per_mutant_s"]
        figures[f"cold_over_warm_{what}"] = round(figures[f"cold_{what}_per_mutant_s"] / warm,
                                                  2) if warm else 0.0
    figures["load_avg_1m"] = round(os.getloadavg()[0], 1)
    return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", action="append", help="profile (repeatable; default: all)")
    ap.add_argument("--jobs", type=int, default=2, help="emulated benches at a time")
    ap.add_argument("--own-only", action="store_true",
                    help="each mutant against its own requirement's scenario only")
    ap.add_argument("--full", action="store_true",
                    help="every scenario on every mutant (no stop at the first kill)")
    ap.add_argument("--select", help="only these mutants: comma-separated names or patterns")
    ap.add_argument("--cold", action="store_true",
                    help="a new interpreter per run instead of a warm worker's child")
    ap.add_argument("--compare", action="store_true",
                    help="per-mutant cost, cold beside warm, of the selected mutants")
    ap.add_argument("--out", type=Path, default=None, help="keep the runs here")
    args = ap.parse_args()
    names = args.profile or available_profiles(None)
    out = args.out or Path(tempfile.mkdtemp(prefix="rig-mutants-"))
    if args.compare:
        flat: dict[str, float] = {}
        for name in names:
            figures = compare(load_profile(name), args.select, out / name)
            print(f"  {figures}")
            flat |= {f"{name}_{k}": v for k, v in figures.items()}
        print(json.dumps(flat))
        return
    started = time.monotonic()
    totals: dict[str, float] = {"mutants": 0, "killed": 0, "survived": 0, "scenarios": 0,
                                "scenarios_killing_none": 0,
                                "scenarios_failing_on_reference": 0, "cpu_s": 0.0}
    figures: dict[str, float] = {}

    def show(run: MutantRun) -> None:
        verdict = "killed" if run.killed else ("ERROR " + run.error if run.error else "SURVIVED")
        if run.defect == "reference":
            verdict = ", ".join(f"{r}: {o}" for r, o in sorted(run.outcomes.items()))
        print(f"  {run.defect:34} {verdict}", flush=True)

    for name in names:
        profile = load_profile(name)
        print(f"{name}: certification suite on the reference meter and each mutant", flush=True)
        chosen = select_defects(profile, args.select)
        if not chosen:
            print(f"{name}: no selected mutant applies")
            continue
        matrix = run_campaign(profile, out / name, jobs=args.jobs, own_only=args.own_only,
                              full=args.full, progress=show, defects=chosen,
                              warm=not args.cold)
        data = matrix.to_dict()
        print(f"  score {data['mutation_score']:.1%}  survived: {data['survived'] or '-'}  "
              f"scenarios killing none: {data['scenarios_killing_none'] or '-'}  "
              f"wall {matrix.wall_s:.0f} s  cpu {matrix.cpu_s:.0f} s  "
              f"→ {out / name / 'kill-matrix.json'}")
        totals["mutants"] += len(matrix.mutants)
        totals["killed"] += len(matrix.killed)
        totals["survived"] += len(matrix.survived)
        totals["scenarios"] += len(matrix.scenarios)
        totals["scenarios_killing_none"] += len(data["scenarios_killing_none"])
        totals["scenarios_failing_on_reference"] += len(matrix.broken)
        totals["cpu_s"] = round(totals["cpu_s"] + matrix.cpu_s, 1)
        figures[f"{name}_mutants"] = len(matrix.mutants)
        figures[f"{name}_killed"] = len(matrix.killed)
        figures[f"{name}_score_pct"] = round(100 * matrix.score, 1)
        figures[f"{name}_scenarios_killing_none"] = len(data["scenarios_killing_none"])
        figures[f"{name}_wall_s"] = round(matrix.wall_s, 1)
        figures[f"{name}_cpu_s"] = round(matrix.cpu_s, 1)
        figures[f"{name}_load_avg_1m"] = round(os.getloadavg()[0], 1)  # how shared the run was
    score = totals["killed"] / totals["mutants"] if totals["mutants"] else 0.0
    print(json.dumps({**totals, "mutation_score_pct": round(100 * score, 1), **figures,
                      "own_only": int(args.own_only), "full": int(args.full),
                      "cold": int(args.cold),
                      "wall_s": round(time.monotonic() - started, 1)}))


if __name__ == "__main__":
    main()
