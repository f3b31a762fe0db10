"""The `rig` command: run the prepaid cycle, start an emulated bench, inspect profiles."""

from __future__ import annotations

import json
import shlex
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from rig.cli import options
from rig.cli.lazy import lazy_groups
from rig.cli.top_level import LAZY_GROUPS
from rig.errors import RigError
from rig.profile_names import DEFAULT_PROFILE, PROFILES_ENV

if TYPE_CHECKING:
    from pydantic import ValidationError

app = typer.Typer(
    cls=lazy_groups(LAZY_GROUPS),
    add_completion=False,
    no_args_is_help=True,
    help="Hardware-in-the-loop test rig for IC-card prepaid energy meters.",
)
commands = typer.Typer(add_completion=False)  # rig's own commands, each built when named


@app.callback()
def _top_level() -> None:
    # No options of its own; typer needs a callback to make a group of an app whose commands
    # are all lazy.
    pass
console = Console(stderr=True)  # progress and errors
result_out = Console()  # the result summary and the report's path: `rig run > out.txt` has them


ProfilesDir = Annotated[Path | None, typer.Option(
    help=f"your meter profiles, searched before rig's shipped ones (also ${PROFILES_ENV})")]


def _sigterm_as_interrupt() -> None:
    """SIGTERM unwinds like Ctrl-C, so every `finally` puts the bench in its safe state."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)


def _fail(message: str) -> typer.Exit:
    """One line on stderr, exit 2. The message is text, not markup: a profile error such as
    "lacks a [power_limit] section" keeps its brackets."""
    console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    return typer.Exit(2)


def _config_problems(e: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: "
                     f"{str(err['msg']).removeprefix('Value error, ')}" for err in e.errors())


@commands.command()
def run(
    bench: Annotated[
        Path | None, typer.Option(help="bench config TOML (default: emulated)")
    ] = None,
    profile: Annotated[str | None, typer.Option(help="meter profile name or path")] = None,
    time_scale: Annotated[
        str | None, typer.Option(help="bench seconds per real second, above 0 "
                                 f"(at most {options.MAX_TIME_SCALE})")
    ] = None,
    amount: Annotated[
        str | None, typer.Option(help="money paid at the vending station (default: 20.00, or "
                                 "more if the profile's alarm 1 needs it)")
    ] = None,
    power: Annotated[str, typer.Option(help="load power set point, whole W above 0")] = "2000",
    out: Annotated[Path, typer.Option(help="folder for run folders")] = Path("runs"),
    db: Annotated[
        str | None, typer.Option(help="billing DB URL (default: in the run folder)")
    ] = None,
    suite: Annotated[
        str | None, typer.Option(help="run a test suite instead: certification, or mutants "
                                 "(the certification suite against each mutant meter)")
    ] = None,
    profiles_dir: ProfilesDir = None,
    select: Annotated[
        str | None, typer.Option("--select", "-k",
                                 help="with --suite: only tests matching this pytest -k "
                                 "expression; with --suite mutants: only the mutants named "
                                 "(comma-separated names or shell patterns)")
    ] = None,
    operator: Annotated[
        str | None, typer.Option(help="who runs the test, for the record (default: "
                                 "$RIG_OPERATOR, the bench config's operator, the login name)")
    ] = None,
    place: Annotated[
        str | None, typer.Option(help="run on a lab place (labgrid; $LG_COORDINATOR): a place "
                                 "name or tags KEY=VALUE[,...]; --bench gives the rest "
                                 "(billing centre, operator)")
    ] = None,
    medium: Annotated[
        str, typer.Option(help="card (the IC card cycle), token (an STS token typed on the "
                          "keypad of a profile with an \\[sts] section, e.g. iec62056-1p-energy) "
                          "or remote (delivered over DL/T 645 to a profile with an \\[esam] "
                          "section)")
    ] = "card",
) -> None:
    """Run one full prepaid cycle (default: on an emulated bench) and write its report.

    With --suite certification, run the certification suite for every profile (or the one
    given) and write JUnit XML, allure-results and certification.html.
    """
    arguments = dict(locals())
    if place:  # reserve and acquire the place, run on it, make it safe, release (rig/lab/)
        from rig.lab.cli import run_on_place

        raise run_on_place(place, bench, lambda file: run(**arguments | {
            "bench": file, "place": None}))
    if suite:
        if time_scale is not None:
            raise _fail("--time-scale does not apply to --suite: each certification test runs "
                        "at the time scale its requirement needs (an emulated bench) or at 1 "
                        "(a real bench)")
        _run_suite(suite, bench, profile, out, profiles_dir, select=select, operator=operator,
                   medium=medium)
    from rig.cli.run_gc import start_up  # what a run imports lives as long as the run

    # A wrong option is refused before the scenarios, the billing centre and matplotlib load.
    with start_up():
        from pydantic import ValidationError

        from rig.bench.config import BenchConfig, load_bench_config
        from rig.bench.master_key import bench_master_key
        from rig.profile import load_profile

    _sigterm_as_interrupt()
    try:
        paid = options.money("--amount", amount) if amount is not None else None
        watts = options.power_w("--power", power)
        config = load_bench_config(bench) if bench else BenchConfig()
        updates: dict[str, object] = {}
        if profile:
            updates["profile"] = profile
        if time_scale is not None:
            updates["time_scale"] = options.time_scale("--time-scale", time_scale)
        if profiles_dir:
            updates["profiles_dir"] = profiles_dir.resolve()
        try:
            config = BenchConfig.model_validate(
                config.model_dump() | updates | {"source": config.source}
            )
        except ValidationError as e:
            where = f"{config.source}: " if config.source else ""
            raise _fail(f"{where}{_config_problems(e)}") from None
        meter_profile = load_profile(config.profile, config.profiles_dir)
        if medium not in ("card", "token", "remote"):
            raise RigError(f"--medium {medium!r}: card, token or remote")
        if medium == "token" and meter_profile.sts is None:
            raise RigError(f"--medium token: profile {meter_profile.name!r} has no [sts] "
                           "section, so its meter takes no tokens (docs/sts.md)")
        if medium == "remote" and meter_profile.esam is None:
            raise RigError(f"--medium remote: profile {meter_profile.name!r} has no [esam] "
                           "section, so its meter has no ESAM to deliver to over DL/T 645 "
                           "(docs/esam.md)")
        bench_master_key(config)  # a real bench without its own key stops here, in one line
    except (RigError, options.OptionError) as e:
        raise _fail(str(e)) from None
    with start_up():
        from rig.cli.progress import CycleProgress
        from rig.scenarios.prepaid_cycle import PHASES, CycleParams
        from rig.scenarios.purchase import purchase_warning, suitable_purchase
        from rig.scenarios.runner import new_run_dir, run_prepaid_cycle
        from rig.scenarios.token_cycle import TOKEN_PHASES

    price = CycleParams().price_per_kwh
    if paid is None:
        paid = suitable_purchase(meter_profile, price)
    elif (warning := purchase_warning(meter_profile, paid, price)) is not None:
        console.print(f"[bold yellow]warning:[/] {escape(warning)}", soft_wrap=True)
    params = CycleParams(amount=paid, power_w=watts)
    run_dir = new_run_dir(out)
    console.print(
        f"[bold]rig[/] prepaid cycle on a [bold]{config.kind}[/] bench, profile "
        f"[bold]{config.profile}[/], time scale {config.time_scale:g}×"
        + {"token": ", credit as an STS token",
           "remote": ", credit delivered over DL/T 645"}.get(medium, "")
    )
    with CycleProgress(console, TOKEN_PHASES if medium == "token" else PHASES) as progress:
        outcome = run_prepaid_cycle(
            config, params=params, run_dir=run_dir, db_url=db, observer=progress,
            operator=operator, medium=medium,
        )
    progress.print_summary(outcome.record.summary, outcome.report, result_out)
    if outcome.error is not None and not isinstance(outcome.error, AssertionError):
        if isinstance(outcome.error, KeyboardInterrupt):
            raise typer.Exit(130)
        raise typer.Exit(2)
    raise typer.Exit(0 if str(outcome.record.outcome) == "pass" else 1)


def _run_suite(suite: str, bench: Path | None, profile: str | None, out: Path,
               profiles_dir: Path | None, *, select: str | None = None,
               operator: str | None = None, medium: str = "card") -> None:
    from rig.cli.suite import run_suite, suite_package

    if suite == "mutants":
        _run_mutants(bench, profile, out, profiles_dir, select)
    try:
        suite_package(suite)
    except ValueError as e:
        raise _fail(str(e)) from None
    if medium not in ("card", "remote"):
        raise _fail(f"--medium {medium!r} with --suite: card or remote")
    if medium == "remote" and profile is not None:
        _needs_esam(profile, profiles_dir)
    run_dir = out / f"{suite}-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    run_dir.mkdir(parents=True, exist_ok=True)
    console.print(f"[bold]rig[/] {suite} suite → {run_dir}")
    code = run_suite(suite, run_dir.resolve(), console, bench=bench, profile=profile,
                     profiles_dir=profiles_dir, select=select, operator=operator,
                     medium=medium)
    console.print(f"JUnit XML: {run_dir / 'junit.xml'}")
    console.print(f"test record (JSON): {run_dir / 'record.json'}")
    console.print(f"Allure results: {run_dir / 'allure-results'}  (render: rig report {run_dir})")
    console.print(f"certification summary: [bold]{run_dir / 'certification.html'}[/]")
    raise typer.Exit(code)


def _needs_esam(profile: str, profiles_dir: Path | None) -> None:
    """--medium remote on one profile: it must have an ESAM, said in one line if not."""
    from rig.profile import load_profile

    try:
        meter = load_profile(profile, profiles_dir.resolve() if profiles_dir else None)
    except RigError as e:
        raise _fail(str(e)) from None
    if meter.esam is None:
        raise _fail(f"--medium remote: profile {meter.name!r} has no [esam] section, so its "
                    "meter has no ESAM to deliver to over DL/T 645 (docs/esam.md)")


def _run_mutants(bench: Path | None, profile: str | None, out: Path,
                 profiles_dir: Path | None, select: str | None) -> None:
    from rig.cli.mutants import run_mutants

    if bench is not None:
        raise _fail("--suite mutants runs on emulated benches it starts itself: drop --bench")
    run_dir = out / f"mutants-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    run_dir.mkdir(parents=True, exist_ok=True)
    console.print(f"[bold]rig[/] mutants suite → {run_dir}")
    try:
        code = run_mutants(run_dir.resolve(), console, profile=profile, select=select,
                           profiles_dir=profiles_dir.resolve() if profiles_dir else None)
    except RigError as e:
        raise _fail(str(e)) from None
    raise typer.Exit(code)


@commands.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="a run folder (holding allure-results)")],
    serve: Annotated[bool, typer.Option(help="serve the report over HTTP until Ctrl-C "
                                        "(--no-serve: print the command that serves it)")] = True,
    port: Annotated[int, typer.Option(help="HTTP port on 127.0.0.1 (0: any free one)")] = 0,
    install: Annotated[bool, typer.Option(help="install Allure 3 into rig's cache folder "
                                          "first if it is missing (npm)")] = False,
) -> None:
    """Render a run's Allure report (Allure 3) and serve it on 127.0.0.1."""
    from rig.cli import report as allure_report

    results = allure_report.results_dir(run_dir)
    if not any(results.glob("*-result.json")):
        raise _fail(f"no Allure results in {results}")
    tool = allure_report.find_allure()
    if tool is None and install:
        try:
            tool = allure_report.install_allure()
        except (OSError, RuntimeError) as e:
            raise _fail(str(e)) from None
    if tool is None:
        raise _fail("Allure 3 is not installed. Install it into rig's cache folder with "
                    f"`rig report {run_dir} --install` or "
                    f"`{shlex.join(allure_report.install_command())}` (or `npm install -g "
                    f"allure`), then run `rig report {run_dir}` again. Meanwhile: "
                    f"{run_dir / 'report.html'} or certification.html needs no tool.")
    out = run_dir / "allure-report"
    try:
        allure_report.generate(tool, results, out)
    except RuntimeError as e:
        raise _fail(str(e)) from None
    if not serve:
        console.print(f"Allure report rendered in {out}; serve it with:")
        sys.stdout.write(allure_report.serve_command(out, port or 8000) + "\n")
        return
    try:
        server = allure_report.report_server(out, port)
    except OSError as e:
        raise _fail(f"cannot serve on 127.0.0.1:{port}: {e}") from None
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    sys.stdout.write(url + "\n")
    sys.stdout.flush()
    console.print(f"Allure report: [bold]{url}[/] (serving {out}; Ctrl-C stops)")
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    allure_report.serve_until_stopped(server, stop)
    console.print("report server stopped")


@commands.command()
def sim(
    profile: Annotated[str, typer.Option(help="meter profile name or path")] = DEFAULT_PROFILE,
    json_: Annotated[bool, typer.Option("--json", help="first stdout line: parts as JSON")] = False,
    time_scale: Annotated[float, typer.Option(help="bench seconds per real second")] = 3600.0,
    reader: Annotated[
        int | None, typer.Option(help="virtual reader slot index (default: first free)")
    ] = None,
    wire_pacing: Annotated[
        bool, typer.Option(help="hold meter replies for their wire time at the profile's baud")
    ] = False,
    address: Annotated[
        str | None, typer.Option(help="meter address (default: the profile's); benches that "
                                 "share a billing centre need one each")
    ] = None,
    profiles_dir: ProfilesDir = None,
    defect: Annotated[
        str | None, typer.Option(help="start a mutant meter with this one known defect "
                                 "(docs/certification.md, 'Mutant meters')")
    ] = None,
) -> None:
    """Start an emulated bench and serve it until SIGINT/SIGTERM."""
    from rig.profile import load_profile
    from rig.sim.emulated_bench import EmulatedBench
    from rig.sim.vpcd import VpcdSlot

    try:
        meter_profile = load_profile(profile, profiles_dir)
        bench = EmulatedBench(
            meter_profile,
            time_scale=time_scale,
            slot=VpcdSlot(reader) if reader is not None else None,
            wire_pacing=wire_pacing,
            address=address,
            defect=defect,
        )
        parts = bench.start()
    except RigError as e:
        raise _fail(str(e)) from None
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    try:
        if json_:
            sys.stdout.write(json.dumps(parts.to_dict()) + "\n")
            sys.stdout.flush()
        else:
            console.print(
                f"[bold]emulated bench[/] ({meter_profile.name}, {time_scale:g}× time) is up:"
            )
            for key, value in parts.to_dict().items():
                console.print(f"  {key:14} {value}")
            console.print("Ctrl-C stops it.")
        while not stop.wait(0.5):
            pass
    finally:
        bench.stop()
    console.print("emulated bench stopped")


@commands.command()
def profiles(profiles_dir: ProfilesDir = None) -> None:
    """List the meter profiles (yours, then rig's shipped ones) and check each one."""
    from rig.profile import load_profile, profile_dirs, profile_files

    failed = False
    try:
        files = profile_files(profiles_dir)
        yours = {d.resolve() for d, _ in profile_dirs(profiles_dir)}
    except RigError as e:
        raise _fail(str(e)) from None
    for name, file in sorted(files.items()):
        mine = isinstance(file, Path) and file.parent.resolve() in yours
        origin = str(file) if mine else "shipped with rig"
        try:
            p = load_profile(name, profiles_dir)
            console.print(
                f"[green]ok[/]  {name:24} {p.identity.maker} {p.identity.model} "
                f"({p.protocol.kind}, credit in {p.credit.unit}) from {origin}", highlight=False
            )
        except RigError as e:
            failed = True
            console.print(f"[red]bad[/] {name:24} {escape(str(e))}", soft_wrap=True)
    raise typer.Exit(1 if failed else 0)


if __name__ == "__main__":
    # `python -m rig.cli.main`: the lazy entries "rig.cli.main:commands" find this module
    # instead of importing a second copy of it.
    sys.modules.setdefault("rig.cli.main", sys.modules[__name__])
    app()
