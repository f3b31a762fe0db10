"""Certification throughput: the suite per shipped profile against its simulated floor, the
card-move round trip against pcscd's own presence-change time, bench stop, CLI start-up and
`rig run`'s fixed overhead — each measured side by side with its floor in one run.

Run from the repo root: ``.venv/bin/python bench/suite.py [--profile NAME] [-k EXPR]
[--moves N] [--run-only N]``; in a private pcscd with rig's own readers only:
``sudo native/pcsc-vreader/private-pcscd.sh .venv/bin/python bench/suite.py``. The card round
trip is timed on every virtual reader driver pcscd offers (rig's event-driven vreader,
vsmartcard's polled vpcd), else against the polled figure in docs/throughput.md.
The suite runs on one worker per profile under bench/suite_probe.py, which times the
simulated waits (the floor: real time spent letting bench time pass), the card moves and the
bench start/stop of every test. `rig run` runs under bench/run_probe.py, which splits its
wall time into imports, bench, billing, cycle, receipt, report and simulated waits;
``--run-only N`` measures that row alone (N runs). Prints a table and, last, one flat JSON
line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout, uninstalled

from cli_start import rig_commands, side_by_side  # noqa: E402

from rig.cli.options import MAX_TIME_SCALE  # noqa: E402
from rig.profile import available_profiles  # noqa: E402

GOAL_SUITE_X_FLOOR = 2.0
# pcscd alone on vsmartcard's polled vpcd readers, docs/throughput.md's last measured figure:
# the comparison where this machine's pcscd offers no vpcd readers to measure it side by side
DOCS_POLLED_ROUND_TRIP_S = 0.804
KIND_LABELS = {"vreader": "vreader (events)", "vpcd": "vpcd (polled)"}


def suite_profile(profile: str, selection: str | None, workdir: Path) -> dict[str, float]:
    """Run the certification suite for one profile on one worker; totals over its tests."""
    out = workdir / f"probe-{profile}.jsonl"
    env = dict(os.environ, RIG_SUITE_PROBE_OUT=str(out),
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO / "bench"),
                                                        os.environ.get("PYTHONPATH")])))
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
               "suite_probe", "-p", "no:randomly", "--meter-profile", profile,
               "rig/suites/certification"]
    if selection:
        command += ["-k", selection]
    t0 = time.perf_counter()
    run = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                         check=False)
    wall = time.perf_counter() - t0
    if run.returncode not in (0, 5):
        raise RuntimeError(f"certification suite for {profile} failed:\n"
                           f"{run.stdout[-3000:]}{run.stderr[-1000:]}")
    rows = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    keys = ("wall_s", "simulated_wait_s", "card_move_s", "card_move_s_n", "card_wait_s",
            "card_wait_s_n", "bench_start_s", "bench_stop_s", "bench_stop_s_n")
    totals = {k: sum(float(r.get(k, 0.0)) for r in rows) for k in keys}
    totals["tests"] = len(rows)
    totals["process_wall_s"] = wall
    return totals


@contextlib.contextmanager
def readers_of(kind: str) -> Iterator[None]:
    """Slots made inside use reader driver `kind` (RIG_READERS, rig/sim/vpcd.py)."""
    from rig.sim.vpcd import READERS_ENV

    before = os.environ.get(READERS_ENV)
    os.environ[READERS_ENV] = kind
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(READERS_ENV, None)
        else:
            os.environ[READERS_ENV] = before


def offered_reader_kinds() -> list[str]:
    """The virtual reader drivers pcscd offers here, rig's own ("vreader") first."""
    from rig.card.pcsc import list_readers
    from rig.sim.vpcd import reader_name

    present, kinds = set(list_readers()), []
    for kind in ("vreader", "vpcd"):
        with readers_of(kind):
            if reader_name(0) in present:
                kinds.append(kind)
    return kinds


def raw_presence_round_trips(n: int, kind: str) -> list[float]:
    """pcscd alone: a virtual card pulled from a reader of driver `kind` ("vreader": rig's,
    event-driven; "vpcd": vsmartcard's, polled) and put back, each change waited for with
    SCardGetStatusChange (what any PC/SC program sees)."""
    from smartcard import scard as S

    from rig.card.application import CardApplication
    from rig.sim.virtual_card import VirtualCard, VpcdLink
    from rig.sim.vpcd import claim_free_slot

    def wait_for(ctx: int, reader: str, flag: int) -> None:
        known = S.SCARD_STATE_UNAWARE
        while True:
            rc, states = S.SCardGetStatusChange(ctx, 5000, [(reader, known)])
            if rc != S.SCARD_S_SUCCESS:
                raise RuntimeError(f"SCardGetStatusChange: {S.SCardGetErrorMessage(rc)}")
            event = states[0][1]
            if event & flag:
                return
            known = event & ~S.SCARD_STATE_CHANGED

    times: list[float] = []
    with readers_of(kind):
        slot = claim_free_slot(wait_s=60.0)
    with slot:
        link = VpcdLink(VirtualCard(CardApplication()), slot)
        _, ctx = S.SCardEstablishContext(S.SCARD_SCOPE_USER)
        try:
            link.insert()
            wait_for(ctx, slot.reader_name, S.SCARD_STATE_PRESENT)
            for _ in range(n):
                t0 = time.perf_counter()
                link.remove()
                wait_for(ctx, slot.reader_name, S.SCARD_STATE_EMPTY)
                link.insert()
                wait_for(ctx, slot.reader_name, S.SCARD_STATE_PRESENT)
                times.append(time.perf_counter() - t0)
        finally:
            link.remove()
            S.SCardReleaseContext(ctx)
    return times


def rig_round_trips(n: int) -> tuple[list[float], list[float], list[float]]:
    """rig's card move writer → meter → writer on an emulated bench, until the station has
    the card powered again (courier + pcscd + connect); and the bench's start and stop."""
    from rig.bench.config import BenchConfig
    from rig.bench.control import ControlClient
    from rig.bench.courier import EmulatedCourier
    from rig.card.pcsc import PcscReader
    from rig.profile import load_profile
    from rig.sim.emulated_bench import EmulatedBench

    profile = load_profile(BenchConfig().profile)
    moves: list[float] = []
    starts: list[float] = []
    stops: list[float] = []
    for _ in range(2):
        sim = EmulatedBench(profile, time_scale=36000.0)
        t0 = time.perf_counter()
        parts = sim.start()
        starts.append(time.perf_counter() - t0)
        control = ControlClient(parts.control)
        courier, reader = EmulatedCourier(control), PcscReader(parts.card_reader)
        try:
            with reader.wait_for_card(5.0):
                pass
            for _ in range(n // 2 or 1):
                t0 = time.perf_counter()
                courier.move("meter")
                courier.move("writer")
                with reader.wait_for_card(5.0):
                    pass
                moves.append(time.perf_counter() - t0)
        finally:
            control.close()
            t0 = time.perf_counter()
            sim.stop()
            stops.append(time.perf_counter() - t0)
    return moves, starts, stops


def fresh_database(workdir: Path, n: int = 3) -> tuple[float, float]:
    """A new SQLite billing database made ready: every migration replayed vs seeded from the
    migrated template (rig/billing/schema_template.py); medians, template already cached."""
    from alembic import command

    from rig.billing.engine import alembic_config, create_billing_engine, upgrade

    def timed(name: str, ready: object) -> float:
        engine = create_billing_engine(f"sqlite:///{workdir / name}")
        t0 = time.perf_counter()
        ready(engine)  # type: ignore[operator]
        seconds = time.perf_counter() - t0
        engine.dispose()
        return seconds

    timed("warm.sqlite", upgrade)  # the template, made once per migration set
    migrated = [timed(f"migrated-{i}.sqlite",
                      lambda e: command.upgrade(alembic_config(e), "head")) for i in range(n)]
    seeded = [timed(f"seeded-{i}.sqlite", upgrade) for i in range(n)]
    return statistics.median(migrated), statistics.median(seeded)


def command_wall(args: list[str], repeat: int = 3) -> tuple[float, float]:
    """Median wall time of a command (each run to its end) and its median CPU time (user +
    system): on a loaded machine the wall time waits for a core, the CPU time does not."""
    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(args, cwd=REPO, capture_output=True, check=False)
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


RUN_PARTS = (("imports_s", "imports"), ("bench_s", "bench start, open, close, stop"),
             ("billing_open_s", "billing centre opened"), ("cycle_s", "the cycle's own work"),
             ("receipt_s", "the printed receipt"), ("report_s", "report written"),
             ("simulated_wait_s", "simulated waits"),
             ("other_s", "the rest: command line, config, profile, exit"),
             ("interpreter_s", "interpreter start and end"))


def rig_run_overhead(workdir: Path, repeat: int = 3) -> dict[str, float]:
    """`rig run` at the maximum time scale, under bench/run_probe.py: its wall time (process
    start to exit), CPU time, and the main thread's time split into parts (the simulated
    waits among them); medians of `repeat` runs after one run that warms the caches an
    installed rig has (bytecode, the billing template, python-escpos' capabilities)."""
    out = workdir / "probe-rig-run.jsonl"
    env = dict(os.environ, RIG_SUITE_PROBE_OUT=str(out))
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # pip compiles an installed rig's bytecode
    rows: list[dict[str, float]] = []
    for i in range(repeat + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, str(REPO / "bench" / "run_probe.py"), "run",
                               "--time-scale", str(MAX_TIME_SCALE),
                               "--out", str(workdir / "runs")],
                              cwd=REPO, env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            raise RuntimeError(f"rig run failed ({done.returncode}):\n{done.stderr[-2000:]}")
        if i == 0:
            continue  # the warm-up
        row = {k: float(v) for k, v in json.loads(out.read_text().splitlines()[-1]).items()
               if k != "test"}
        row["bench_s"] = sum(row.get(k, 0.0) for k in (
            "bench_start_s", "bench_open_s", "bench_close_s", "bench_stop_s"))
        row["billing_open_s"] = row.get("billing_open_s", 0.0) + row.get("billing_close_s", 0.0)
        parts = sum(row.get(k, 0.0) for k, _ in RUN_PARTS[:-2])
        row["other_s"] = row["main_s"] - parts
        row["interpreter_s"] = wall - row["main_s"]
        row["wall_s"] = wall
        row["cpu_s"] = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        rows.append(row)
    keys = {k for r in rows for k in r}
    return {k: statistics.median(r.get(k, 0.0) for r in rows) for k in keys}


def print_floor(py: tuple[float, float]) -> None:
    print(f"  {'python -c pass (the floor)':<46} {py[0]:>9.3f} {py[1]:>7.3f}")


def print_run_row(run: dict[str, float]) -> None:
    """The `rig run` row: wall, CPU, simulated time, overhead and its parts."""
    print(f"  {f'rig run --time-scale {MAX_TIME_SCALE}':<46} {run['wall_s']:>9.3f} "
          f"{run['cpu_s']:>7.3f}")
    print(f"  {'  of which simulated time':<46} {run['simulated_wait_s']:>9.3f}")
    print(f"  {'  fixed overhead (wall − simulated)':<46} "
          f"{run['wall_s'] - run['simulated_wait_s']:>9.3f}")
    print(f"  {'  its wall time, part by part (main thread)':<46}")
    for key, label in RUN_PARTS:
        print(f"  {'    ' + label:<46} {run.get(key, 0.0):>9.3f}")


def run_figures(run: dict[str, float]) -> dict[str, float]:
    return {"rig_run_wall_s": round(run["wall_s"], 3),
            "rig_run_overhead_s": round(run["wall_s"] - run["simulated_wait_s"], 3),
            "rig_run_cpu_s": round(run["cpu_s"], 3),
            **{f"rig_run_{key}": round(run.get(key, 0.0), 3) for key, _ in RUN_PARTS}}


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def run_row_only(repeat: int) -> None:
    """`rig run`'s row alone (beside `python -c pass`), for working on its start-up."""
    with tempfile.TemporaryDirectory(prefix="rig-suite-bench-") as tmp:
        load = load_average()
        py = command_wall([sys.executable, "-c", "pass"])
        run = rig_run_overhead(Path(tmp), repeat)
    print(f"{'command line':<48} {'wall s':>9} {'CPU s':>7}   (load average {load:g})")
    print_floor(py)
    print_run_row(run)
    print(json.dumps({"python_start_s": round(py[0], 3), **run_figures(run),
                      "load_average": load}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="append", help="only these profiles (repeat)")
    parser.add_argument("-k", dest="selection", help="-k selection of the suite")
    parser.add_argument("--moves", type=int, default=6, help="card round trips to time")
    parser.add_argument("--no-suite", action="store_true", help="skip the suite runs")
    parser.add_argument("--run-only", type=int, metavar="N", default=0,
                        help="only `rig run`'s row, N runs (beside `python -c pass`)")
    args = parser.parse_args()
    if args.run_only:
        run_row_only(args.run_only)
        return
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="rig-suite-bench-") as tmp:
        work = Path(tmp)
        kinds = offered_reader_kinds()
        raw = {kind: raw_presence_round_trips(args.moves, kind) for kind in kinds}
        moves, starts, stops = rig_round_trips(args.moves)  # the readers rig picks itself
        polled_moves: list[float] = []
        if "vpcd" in kinds and kinds[0] != "vpcd":
            with readers_of("vpcd"):
                polled_moves = rig_round_trips(args.moves)[0]
        cli = side_by_side(rig_commands(), repeat=7)  # bench/cli_start.py: in turn, 7 rounds
        py, helps, profs = ((t.wall, t.cpu) for t in cli.values())
        run = rig_run_overhead(work)
        db_migrated, db_seeded = fresh_database(work)
        suites = {} if args.no_suite else {
            p: suite_profile(p, args.selection, work)
            for p in (args.profile or available_profiles())}
    from rig.sim.vpcd import reader_kind

    used = reader_kind()
    rig_m = statistics.median(moves)
    raw_m = statistics.median(raw[used])
    polled_raw = statistics.median(raw["vpcd"]) if "vpcd" in raw else DOCS_POLLED_ROUND_TRIP_S
    print(f"{'card round trip writer → meter → writer':<48} {'median s':>9}")
    for kind, times in raw.items():
        label = f"pcscd alone, {KIND_LABELS[kind]}"
        print(f"  {label:<46} {statistics.median(times):>9.3f}")
    if "vpcd" not in raw:
        print(f"  {'pcscd alone, vpcd (polled), from the docs':<46} {polled_raw:>9.3f}")
    print(f"  {'rig, courier + station, on ' + KIND_LABELS[used]:<46} {rig_m:>9.3f}")
    if polled_moves:
        print(f"  {'rig, courier + station, on ' + KIND_LABELS['vpcd']:<46} "
              f"{statistics.median(polled_moves):>9.3f}")
    print(f"  {'ratio rig / pcscd alone, same readers':<46} {rig_m / raw_m:>9.2f}")
    print(f"  {'ratio rig / pcscd alone on vpcd (polled)':<46} {rig_m / polled_raw:>9.3f}")
    print(f"{'emulated bench':<48} {'median s':>9}")
    print(f"  {'start (incl. first card insert)':<46} {statistics.median(starts):>9.3f}")
    print(f"  {'stop':<46} {statistics.median(stops):>9.3f}")
    print(f"{'fresh run database (SQLite)':<48} {'median s':>9}")
    print(f"  {'every migration replayed':<46} {db_migrated:>9.3f}")
    print(f"  {'seeded from the migrated template':<46} {db_seeded:>9.3f}")
    print(f"{'command line':<48} {'wall s':>9} {'CPU s':>7}")
    print_floor(py)
    print(f"  {'rig --help':<46} {helps[0]:>9.3f} {helps[1]:>7.3f}")
    print(f"  {'rig profiles':<46} {profs[0]:>9.3f} {profs[1]:>7.3f}")
    print_run_row(run)
    if polled_moves:
        figures["card_round_trip_rig_polled_s"] = round(statistics.median(polled_moves), 3)
    figures.update({
        "card_round_trip_pcscd_s": round(raw_m, 3), "card_round_trip_rig_s": round(rig_m, 3),
        "card_round_trip_rig_per_pcscd": round(rig_m / raw_m, 2),
        "card_round_trip_polled_pcscd_s": round(polled_raw, 3),
        "card_round_trip_rig_per_polled_pcscd": round(rig_m / polled_raw, 3),
        "bench_start_s": round(statistics.median(starts), 3),
        "bench_stop_s": round(statistics.median(stops), 4),
        "fresh_db_migrated_s": round(db_migrated, 3), "fresh_db_seeded_s": round(db_seeded, 3),
        "python_start_s": round(py[0], 3), "rig_help_s": round(helps[0], 3),
        "rig_help_cpu_s": round(helps[1], 3), "rig_profiles_s": round(profs[0], 3),
        "rig_profiles_cpu_s": round(profs[1], 3), **run_figures(run),
        "load_average": load_average(),
    })
    if suites:
        print(f"{'certification suite, one worker':<30} {'tests':>5} {'wall s':>8} "
              f"{'floor s':>8} {'×floor':>7} {'moves':>6} {'moves s':>8} {'card s':>7} "
              f"{'start s':>8} {'stop s':>7}")
    for name, t in suites.items():
        ratio = t["wall_s"] / t["simulated_wait_s"] if t["simulated_wait_s"] else float("nan")
        print(f"  {name:<28} {t['tests']:>5.0f} {t['wall_s']:>8.1f} "
              f"{t['simulated_wait_s']:>8.1f} {ratio:>7.2f} {t['card_move_s_n']:>6.0f} "
              f"{t['card_move_s']:>8.1f} {t['card_wait_s']:>7.1f} {t['bench_start_s']:>8.1f} "
              f"{t['bench_stop_s']:>7.2f}")
        figures[f"suite_{name}_wall_s"] = round(t["wall_s"], 1)
        figures[f"suite_{name}_floor_s"] = round(t["simulated_wait_s"], 1)
        figures[f"suite_{name}_x_floor"] = round(ratio, 2)
        figures[f"suite_{name}_card_s"] = round(t["card_move_s"] + t["card_wait_s"], 1)
    if suites:
        print(f"  goal: wall ≤ {GOAL_SUITE_X_FLOOR:g}× floor per profile")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
