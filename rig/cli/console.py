"""`rig console serve`: a vending station's console on its own (no REST API beside it), and the
console that `rig billing serve --console-station` mounts at /console/ — both built here.

Operators get their console password with `rig billing operators password NAME`.
"""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rig.billing.engine import DEFAULT_URL
from rig.cli.billing_open import (
    AuditAnchor,
    AuditKeyFile,
    Db,
    ReadbackKeyFile,
    err,
    fail,
    open_centre,
    readback_keys,
    server_audit,
    stop_on_sigterm,
)
from rig.errors import RigError
from rig.extras import MissingExtra, require

if TYPE_CHECKING:
    from rig.billing.centre.facade import BillingCentre
    from rig.printer.station_printer import ReceiptPrinter

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="The vending console of one station: cashiers' web pages and its card "
                       "writer.")

Reader = Annotated[str | None, typer.Option(
    help="the console station's card writer: PC/SC reader name or pattern")]
MasterKeyFile = Annotated[Path | None, typer.Option(
    help="card master key for the writer (default: $RIG_MASTER_KEY)")]
CardOptions = Annotated[list[str] | None, typer.Option(
    "--card-option", help="the card writer's option KEY=VALUE, e.g. dialect=omnikey (repeat; "
    "each card format gets those it has, docs/card-formats.md)")]
ProfilesDir = Annotated[Path | None, typer.Option(
    help="your meter profiles (the writer writes each meter's card in its profile's format)")]
InsecureCookies = Annotated[bool, typer.Option(
    help="console session cookie over plain HTTP (loopback only)")]
IdleMinutes = Annotated[int, typer.Option(
    min=1, max=24 * 60, help="console sessions end after this long unused")]
MaxHours = Annotated[int, typer.Option(
    min=1, max=7 * 24, help="console sessions end this long after login")]
TimeZoneOpt = Annotated[str | None, typer.Option(
    help="the station's time zone for shown and printed times, an IANA name such as "
         "Asia/Shanghai (default: $RIG_TIME_ZONE, else the machine's zone)")]


def require_server(command: str) -> None:
    """The server extra (FastAPI, uvicorn), or a one-line error naming it."""
    try:
        for module in ("fastapi", "uvicorn"):
            require("server", module, command)
    except MissingExtra as e:
        raise fail(str(e)) from None


def card_options(pairs: list[str] | None) -> dict[str, str]:
    """``KEY=VALUE`` pairs as options (a one-line error naming a malformed one)."""
    options: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise fail(f"--card-option {pair!r}: expected KEY=VALUE, e.g. dialect=omnikey")
        options[key.strip()] = value.strip()
    return options


def console_asgi(centre: BillingCentre, *, station: str, reader: str | None,
                 master_key_file: Path | None, insecure_cookies: bool, idle_minutes: int,
                 max_hours: int, time_zone: str | None = None,
                 printer: ReceiptPrinter | None = None,
                 writer_options: dict[str, str] | None = None,
                 profiles_dir: Path | None = None) -> Any:
    """The console app of ``station``; with ``reader``, its card writer holds the master key
    and writes each meter's card in its profile's card format with ``writer_options`` (an
    unreadable key or an option no format has is a one-line error naming the reader)."""
    from rig.card.keys import MasterKey
    from rig.station.console import PcscCardWriter, create_console_app

    writer = None
    if reader:
        try:
            key = (MasterKey.from_file(master_key_file) if master_key_file
                   else MasterKey.from_env())
        except RigError as e:
            raise fail(f"card writer {reader!r}: {e}") from None
        try:
            writer = PcscCardWriter(centre, key, reader, card_options=writer_options,
                                    profiles_dir=profiles_dir)
        except RigError as e:
            raise fail(str(e)) from None
    return create_console_app(centre, station=station, writer=writer,
                              secure_cookies=not insecure_cookies,
                              idle_timeout_s=idle_minutes * 60.0,
                              session_max_age_s=max_hours * 3600.0, time_zone=time_zone,
                              printer=printer)


@app.command()
def serve(
    station: Annotated[str, typer.Option(help="code of this vending station")],
    db: Db = DEFAULT_URL,
    reader: Reader = None,
    master_key_file: MasterKeyFile = None,
    card_option: CardOptions = None,
    profiles_dir: ProfilesDir = None,
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8080,
    insecure_cookies: InsecureCookies = False,
    audit_key_file: AuditKeyFile = None,
    audit_anchor: AuditAnchor = None,
    readback_key_file: ReadbackKeyFile = None,
    session_idle_minutes: IdleMinutes = 60,
    session_max_hours: MaxHours = 12,
    time_zone: TimeZoneOpt = None,
) -> None:
    """Serve the vending console of one station (at /), until Ctrl-C / SIGTERM."""
    require_server("rig console serve")
    import uvicorn

    from rig.billing.api.body_limit import BodyLimit

    stop_on_sigterm()
    with open_centre(db, server_audit(audit_key_file, audit_anchor),
                     readback_keys(readback_key_file)) as c:
        app_ = console_asgi(c, station=station, reader=reader, master_key_file=master_key_file,
                            insecure_cookies=insecure_cookies,
                            idle_minutes=session_idle_minutes, max_hours=session_max_hours,
                            time_zone=time_zone, writer_options=card_options(card_option),
                            profiles_dir=profiles_dir)
        err.print(f"vending console of {station} on http://{host}:{port}/", highlight=False)
        with suppress(KeyboardInterrupt):  # the same cap on request bodies as the REST API
            uvicorn.run(BodyLimit(app_), host=host, port=port, log_level="info")
    err.print("vending console stopped")
