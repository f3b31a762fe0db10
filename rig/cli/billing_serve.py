"""`rig billing serve`: the REST API over one centre, and the vending console beside it."""

from __future__ import annotations

from contextlib import suppress
from datetime import timedelta
from typing import Annotated

import typer

from rig.billing.engine import DEFAULT_URL
from rig.cli.billing_open import (
    AuditAnchor,
    AuditKeyFile,
    Db,
    ReadbackKeyFile,
    err,
    open_centre,
    readback_keys,
    server_audit,
    stop_on_sigterm,
)
from rig.cli.billing_print import CodePageOpt, PaperOpt, station_printer
from rig.cli.console import (
    CardOptions,
    IdleMinutes,
    InsecureCookies,
    MasterKeyFile,
    MaxHours,
    ProfilesDir,
    Reader,
    TimeZoneOpt,
    card_options,
    console_asgi,
    require_server,
)


def serve(
    db: Db = DEFAULT_URL,
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
    console_station: Annotated[str | None, typer.Option(
        help="also serve the vending console at /console/ for this vending station")] = None,
    reader: Reader = None,
    master_key_file: MasterKeyFile = None,
    card_option: CardOptions = None,
    profiles_dir: ProfilesDir = None,
    insecure_cookies: InsecureCookies = False,
    audit_key_file: AuditKeyFile = None,
    audit_anchor: AuditAnchor = None,
    readback_key_file: ReadbackKeyFile = None,
    token_lifetime_days: Annotated[int, typer.Option(
        min=0, max=3660,
        help="lifetime of a token POST /tokens makes without expires_in_s (0: never)")] = 90,
    session_idle_minutes: IdleMinutes = 60,
    session_max_hours: MaxHours = 12,
    time_zone: TimeZoneOpt = None,
    console_printer: Annotated[str | None, typer.Option(
        help="the console station's ESC/POS receipt printer: tcp://HOST[:9100], usb://VID:PID "
        "or a serial port (docs/printer.md)")] = None,
    code_page: CodePageOpt = "CP858",
    paper_mm: PaperOpt = 80,
) -> None:
    """Serve the REST API (OpenAPI at /docs and /openapi.json), and the vending console at
    /console/ with --console-station, until Ctrl-C / SIGTERM."""
    require_server("rig billing serve (the REST API and the console)")
    import uvicorn

    from rig.billing.api import create_app

    stop_on_sigterm()
    with open_centre(db, server_audit(audit_key_file, audit_anchor),
                     readback_keys(readback_key_file)) as c:
        app = create_app(c, token_lifetime=timedelta(days=token_lifetime_days)
                         if token_lifetime_days else None)
        if console_station:
            app.mount("/console", console_asgi(
                c, station=console_station, reader=reader, master_key_file=master_key_file,
                insecure_cookies=insecure_cookies, idle_minutes=session_idle_minutes,
                max_hours=session_max_hours, time_zone=time_zone,
                printer=station_printer(c, console_printer, code_page, paper_mm),
                writer_options=card_options(card_option), profiles_dir=profiles_dir))
            err.print(f"vending console on http://{host}:{port}/console/", highlight=False)
        err.print(f"billing centre API on http://{host}:{port} (docs: /docs)", highlight=False)
        with suppress(KeyboardInterrupt):
            uvicorn.run(app, host=host, port=port, log_level=log_level)
    err.print("billing centre API stopped")
