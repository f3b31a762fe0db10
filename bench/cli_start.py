"""How fast the `rig` command starts: `rig --help` and `rig profiles` (goal ≤ 0.3 s wall each)
against their floor, `python -c pass`, measured side by side in one run.

Run from the repo root: ``.venv/bin/python bench/cli_start.py [--repeat N] [--base DIR]``.
The three commands run in turn, N rounds (default 9), so a load that comes and goes touches
each alike; each figure is the median and the minimum of its rounds, wall time (process start
to exit) and CPU time (user + system: on a loaded machine the wall time waits for a core, the
CPU time does not). Whether rig's modules start from cached bytecode is printed beside the
figures: with PYTHONDONTWRITEBYTECODE set and no __pycache__ in the checkout (a fresh worktree)
every start compiles each rig module it imports, which an installed rig never does. ``--base
DIR`` also times an older checkout's commands in the same rounds
(e.g. ``git worktree add /tmp/base f0c4eca``), run from DIR with DIR first on PYTHONPATH and
this interpreter. bench/suite.py prints the same rows. Prints a table and, last, one flat JSON
line.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOAL_S = 0.3


@dataclass(frozen=True)
class Timed:
    """One command's rounds: wall and CPU seconds each."""

    walls: tuple[float, ...]
    cpus: tuple[float, ...]

    @property
    def wall(self) -> float:
        return statistics.median(self.walls)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpus)


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(args, cwd=cwd, env=env, capture_output=True, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def side_by_side(commands: dict[str, tuple[list[str], Path, dict[str, str]]],
                 repeat: int) -> dict[str, Timed]:
    """Each command (args, working directory, environment) once per round, in turn."""
    rounds: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, (args, cwd, env) in commands.items():
            rounds[name].append(_run(args, cwd, env))
    return {name: Timed(tuple(w for w, _ in r), tuple(c for _, c in r))
            for name, r in rounds.items()}


def rig_commands(base: Path | None = None) -> dict[str, tuple[list[str], Path, dict[str, str]]]:
    """`python -c pass`, `rig --help`, `rig profiles` (and the same two of an old checkout)."""
    env = dict(os.environ, COLUMNS="100")
    rig = [sys.executable, "-m", "rig.cli.main"]
    commands = {"python -c pass": ([sys.executable, "-c", "pass"], REPO, env),
                "rig --help": ([*rig, "--help"], REPO, env),
                "rig profiles": ([*rig, "profiles"], REPO, env)}
    if base is not None:
        old = dict(env, PYTHONPATH=os.pathsep.join(filter(None, [str(base),
                                                                 env.get("PYTHONPATH")])))
        commands["rig --help (base)"] = ([*rig, "--help"], base, old)
        commands["rig profiles (base)"] = ([*rig, "profiles"], base, old)
    return commands


def bytecode_cached(root: Path) -> bool:
    """Does `rig/cli/main.py` under `root` start from a .pyc at least as new as its source?"""
    source = root / "rig" / "cli" / "main.py"
    cached = Path(importlib.util.cache_from_source(str(source)))
    return cached.exists() and cached.stat().st_mtime >= source.stat().st_mtime


def print_rows(timed: dict[str, Timed]) -> None:
    print(f"{'command line':<48} {'wall s':>9} {'min':>7} {'CPU s':>7} {'min':>7}")
    for name, t in timed.items():
        print(f"  {name:<46} {t.wall:>9.3f} {min(t.walls):>7.3f} {t.cpu:>7.3f} "
              f"{min(t.cpus):>7.3f}")


def figures(timed: dict[str, Timed]) -> dict[str, float]:
    keys = {"python -c pass": "python_start", "rig --help": "rig_help",
            "rig profiles": "rig_profiles", "rig --help (base)": "base_rig_help",
            "rig profiles (base)": "base_rig_profiles"}
    out: dict[str, float] = {}
    for name, t in timed.items():
        key = keys[name]
        out[f"{key}_s"] = round(t.wall, 3)
        out[f"{key}_min_s"] = round(min(t.walls), 3)
        out[f"{key}_cpu_s"] = round(t.cpu, 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9, help="rounds (default 9)")
    parser.add_argument("--base", type=Path, help="an older checkout to time beside this one")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    timed = side_by_side(rig_commands(args.base.resolve() if args.base else None), args.repeat)
    print_rows(timed)
    load = max(load, os.getloadavg()[0])
    cached = bytecode_cached(REPO)
    print(f"load average (1 min) up to {load:.1f}; goal: wall ≤ {GOAL_S} s for each rig row; "
          f"rig's bytecode {'cached' if cached else 'NOT cached (compiled at every start)'}")
    print(json.dumps({**figures(timed), "load_avg_1m": round(load, 1),
                      "rig_bytecode_cached": int(cached)}))


if __name__ == "__main__":
    main()
