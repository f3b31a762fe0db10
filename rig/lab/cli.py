"""`rig lab …` (bench host, places, recovery) and `rig run --place`: the lab at a terminal.

The coordinator is labgrid's: `--coordinator HOST:PORT`, else $LG_COORDINATOR, else
127.0.0.1:20408. Nothing here imports labgrid until a command needs it.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from rig.bench.config import BenchConfig, load_bench_config
from rig.errors import RigError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="A lab of many benches on labgrid: places, host, recover, relay.")
console = Console(stderr=True)
Coordinator = Annotated[str | None, typer.Option(
    help="labgrid coordinator HOST:PORT (default: $LG_COORDINATOR, else 127.0.0.1:20408)")]


def _say(message: str) -> None:
    console.print(f"[bold]lab[/] {escape(message)}", soft_wrap=True, highlight=False)


def _fail(message: str) -> typer.Exit:
    console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    return typer.Exit(2)


def run_on_place(spec: str, bench: Path | None, run: Callable[[Path], None],
                 timeout_s: float | None = None) -> typer.Exit:
    """`rig run --place SPEC`: hold a place matching SPEC while `run` runs on a bench file
    made of the job's config (`bench`) on the place's parts; the exit code is the run's."""
    from rig.lab.bench_file import write_bench_file
    from rig.lab.job import placed_bench

    code = 0
    place = spec
    try:
        base = load_bench_config(bench) if bench else BenchConfig()
        with tempfile.TemporaryDirectory(prefix="rig-place-") as tmp, \
                placed_bench(spec, base, say=_say, timeout_s=timeout_s) as placed:
            place = placed.place
            try:
                run(write_bench_file(placed.config, Path(tmp) / f"{place}.toml"))
            except typer.Exit as e:
                code = e.exit_code
            if code not in (0, 1):  # 1: the run's verdict is a failure; it said why
                console.print(f"[bold red]error:[/] place {escape(place)}: the job ended "
                              f"with exit code {code} (its error is above)", soft_wrap=True)
    except RigError as e:
        text = str(e) if "place" in str(e) else f"place {place}: {e}"
        return _fail(text)
    return typer.Exit(code)


@app.command()
def host(
    emulated: Annotated[list[str], typer.Option(
        help="an emulated bench served as place NAME (repeat for more)")],
    coordinator: Coordinator = None,
    name: Annotated[str | None, typer.Option(
        help="the exporter's name at the coordinator (default: this host's name)")] = None,
    hostname: Annotated[str | None, typer.Option(
        help="the address clients reach this host's benches at (default: its FQDN)")] = None,
    profile: Annotated[str, typer.Option(help="meter profile of the emulated benches")] =
        "dlt645-1p-money",
    time_scale: Annotated[float, typer.Option(help="bench seconds per real second")] =
        36000.0,
    workdir: Annotated[Path, typer.Option(help="folder for the exporter's resource file "
                                          "and log")] = Path("lab-host"),
    json_: Annotated[bool, typer.Option("--json", help="first stdout line: the host as "
                                        "JSON")] = False,
) -> None:
    """Serve this machine's benches as lab places: emulated benches, their card relays and a
    labgrid exporter, until SIGINT/SIGTERM."""
    from rig.lab.bench_host import BenchHost
    from rig.lab.coordinator import coordinator_address
    from rig.lab.emulated_place import EmulatedPlace
    from rig.profile import load_profile

    stop = _stop_on_signal()
    address = hostname or socket.getfqdn()
    try:
        meter_profile = load_profile(profile)
        workdir.mkdir(parents=True, exist_ok=True)
        places = [EmulatedPlace(p, meter_profile, host=address, time_scale=time_scale)
                  for p in emulated]
        bench_host = BenchHost(places, coordinator=coordinator_address(coordinator),
                               name=name or socket.gethostname(), hostname=address,
                               workdir=workdir.resolve()).start()
    except RigError as e:
        raise _fail(str(e)) from None
    try:
        if json_:
            sys.stdout.write(json.dumps(bench_host.describe()) + "\n")
            sys.stdout.flush()
        _say(f"serving {', '.join(emulated)} as exporter {bench_host.name} at "
             f"{bench_host.coordinator}; Ctrl-C stops")
        _serve(stop)
    finally:
        bench_host.stop()
    _say("bench host stopped")


def _stop_on_signal() -> threading.Event:
    """An event set by SIGINT/SIGTERM (installed before anything starts, so a signal during
    start-up still unwinds through the `finally` that stops the children)."""
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():  # already stopping: let the clean-up finish
            return
        stop.set()
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


def _serve(stop: threading.Event) -> None:
    with contextlib.suppress(KeyboardInterrupt):
        while not stop.wait(0.5):
            pass


@app.command()
def relay(
    reader: Annotated[str, typer.Argument(help="the card writer: PC/SC reader name or regex")],
    host: Annotated[str, typer.Option(help="address to listen on (the lab network's)")] =
        "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0: any free one)")] = 0,
) -> None:
    """Serve a real bench's card writer to the job holding its place (the `card` resource,
    class RigCardRelay, url rigcard://HOST:PORT), until SIGINT/SIGTERM."""
    from rig.card.relay import CardRelay

    stop = _stop_on_signal()
    try:
        card_relay = CardRelay(reader, host, port).start()
    except (RigError, OSError) as e:
        raise _fail(str(e)) from None
    sys.stdout.write(card_relay.url + "\n")
    sys.stdout.flush()
    try:
        _serve(stop)
    finally:
        card_relay.stop()


@app.command()
def places(coordinator: Coordinator = None) -> None:
    """List the places: who holds each, and its tags."""
    from rig.lab.coordinator import LabClient

    try:
        with LabClient(coordinator) as lab:
            for name, place in sorted(lab.places().items()):
                tags = " ".join(f"{k}={v}" for k, v in sorted(place.tags.items()))
                held = f"held by {place.acquired}" if place.acquired else "free"
                sys.stdout.write(f"{name:20} {held:32} {tags}\n")
    except RigError as e:
        raise _fail(str(e)) from None


@app.command()
def recover(
    place: Annotated[str, typer.Argument(help="the place an abandoned job still holds")],
    coordinator: Coordinator = None,
) -> None:
    """Take back a place whose job died: switch its load off (read back), cancel the dead
    job's reservation and release the place (labgrid's `release --kick`)."""
    from rig.lab.coordinator import LabClient, LabError
    from rig.lab.place_bench import bench_config_for, make_safe

    try:
        with LabClient(coordinator) as lab:
            held = lab.place(place)
            holder = held.acquired  # the session updates `held` as the place changes
            if holder is None:
                _say(f"place {place} is not held by anyone; nothing to recover")
                return
            try:
                config = bench_config_for(place, lab.resources(place), BenchConfig())
                safe = make_safe(place, config)
            except LabError as e:  # its exporter is gone too: release it all the same
                _say(f"cannot reach the load of {place}: {e}")
                safe = False
            if held.reservation:
                lab.cancel(held.reservation)
            lab.release(place)
    except RigError as e:
        raise _fail(str(e)) from None
    _say(f"place {place} taken back from {holder}: "
         f"{'load input off (read back)' if safe else 'load input NOT confirmed off'}; "
         "released")
    if not safe:
        raise typer.Exit(1)
