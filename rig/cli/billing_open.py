"""What every `rig billing …` command shares: the ``--db`` option, opening the centre, and how
an error ends the command: one line on stderr and an exit code a script can act on —
2 for a usage error (a bad value or option: fix the command), 3 when the centre refused the
operation (a business rule: hoarding limit, blocked meter, unknown record, duplicate, role),
74 when it could not store (read-only, full, I/O error: nothing was committed), 75 when the
database stayed locked (nothing was done: run it again)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rig.billing import inputs
from rig.billing.busy import EXIT_BUSY, BillingBusy
from rig.billing.centre.errors import Conflict, NotFound, PermissionDenied, VendRefused
from rig.billing.centre.facade import BillingCentre
from rig.billing.engine import DEFAULT_LOCK_WAIT_S
from rig.billing.readback_keys import ReadbackKeyService
from rig.billing.storage import EXIT_STORAGE, BillingStorageError
from rig.cli import table_console
from rig.errors import RigError
from rig.extras import MissingExtra

if TYPE_CHECKING:
    from rig.billing.audit_key import AuditConfig

err = Console(stderr=True, soft_wrap=True)  # an error message is one line, for logs
out = table_console()

Db = Annotated[str, typer.Option("--db", envvar="RIG_BILLING_DB",
                                 help="billing database URL (SQLAlchemy)")]

AuditKeyFile = Annotated[Path | None, typer.Option(
    "--audit-key-file", envvar="RIG_AUDIT_KEY_FILE",
    help="the audit chain's key file (never kept in the database)")]
AuditAnchor = Annotated[Path | None, typer.Option(
    "--audit-anchor", envvar="RIG_AUDIT_ANCHOR",
    help="file of signed checkpoints of the audit chain's head, outside the database")]

EXIT_USAGE = 2
EXIT_REFUSED = 3  # the centre refused: the command was right, the ledger said no
# VendRefused reasons that are a mistake in the command, not the ledger saying no.
_BAD_INPUT = frozenset({"amount_invalid", "amount_not_positive", "reason_missing",
                        "request_id_missing"})

LOCK_WAIT_ENV = "RIG_BILLING_LOCK_WAIT_S"  # seconds to wait for another station's lock


def money(text: str, what: str, places: int = inputs.MONEY_PLACES,
          digits: int = inputs.MONEY_DIGITS) -> Decimal:
    """Money as the REST API takes it: plain ASCII decimal text (rig.billing.inputs)."""
    try:
        return inputs.parse_money(text, what, places=places, digits=digits)
    except inputs.InvalidInput as e:
        raise fail(str(e)) from None


def price_option(text: str, what: str) -> Decimal:
    return money(text, what, inputs.PRICE_PLACES, 6)


def when(text: str | None, what: str) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise fail(f"{what} {text!r} is not an ISO 8601 date/time (e.g. 2024-01-01T00:00)") \
            from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def table(title: str, columns: list[str], rows: Sequence[Sequence[object]]) -> None:
    t = Table(title=title)
    for col in columns:
        t.add_column(col)
    for row in rows:
        t.add_row(*(str(v) for v in row))
    out.print(t)


def fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)  # rig[server] stays
    return typer.Exit(code)


def lock_wait() -> float:
    text = os.environ.get(LOCK_WAIT_ENV, str(DEFAULT_LOCK_WAIT_S))
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < 3600:
        raise fail(f"${LOCK_WAIT_ENV}={text!r} must be a number of seconds in (0, 3600)")
    return seconds


def audit_config(key_file: Path | None, anchor: Path | None) -> AuditConfig:
    """The audit key and anchor from the options (or their environment variables)."""
    from rig.billing.audit_key import AuditConfig

    try:
        return AuditConfig.from_files(key_file, anchor)
    except RigError as e:
        raise fail(str(e)) from None


def server_audit(key_file: Path | None, anchor: Path | None) -> AuditConfig:
    """The audit config of a long-running server, warning when the chain goes unkeyed."""
    audit = audit_config(key_file, anchor)
    if audit.key is None:
        err.print("warning: no audit key (--audit-key-file / $RIG_AUDIT_KEY_FILE): the audit "
                  "chain is written unkeyed and a re-hashed edit cannot be detected",
                  highlight=False)
    return audit


def stop_on_sigterm() -> None:
    """uvicorn shuts down gracefully on SIGINT/SIGTERM and then re-raises the signal; turning
    SIGTERM into KeyboardInterrupt lets the database close and the command exit 0."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop)


ReadbackKeyFile = Annotated[Path | None, typer.Option(
    "--readback-key-file",
    help="the centre's readback master key, to verify readback MACs (default: "
         "$RIG_READBACK_KEY, else the public lab test key)")]


def readback_keys(path: Path | None) -> ReadbackKeyService:
    """The centre's readback key service; an unreadable or malformed key is a clear error."""
    try:
        keys = ReadbackKeyService.from_file(path) if path else ReadbackKeyService.default()
    except RigError as e:
        raise fail(str(e)) from None
    err.print(f"verifying readbacks with {keys.describe()}", highlight=False)
    return keys


@contextmanager
def open_centre(db: str, audit: AuditConfig | None = None,
                keys: ReadbackKeyService | None = None) -> Iterator[BillingCentre]:
    """Open the database; errors end the command as the module says. ``audit``: the audit
    key and anchor (default: from the environment); ``keys`` verifies readbacks (default:
    :meth:`ReadbackKeyService.default`)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, OperationalError

    from rig.billing import open_billing

    try:
        shown = make_url(db).render_as_string(hide_password=True)
    except ArgumentError:
        raise fail(f"--db {db!r} is not a database URL (e.g. sqlite:///billing.sqlite)") \
            from None
    try:
        c = open_billing(db, lock_wait_s=lock_wait(), audit=audit, readback_keys=keys)
    except BillingBusy as e:
        raise fail(str(e), EXIT_BUSY) from None
    except BillingStorageError as e:
        raise fail(str(e), EXIT_STORAGE) from None
    except MissingExtra as e:
        raise fail(f"cannot open billing database {shown}: {e}") from None
    except RigError as e:  # e.g. an unreadable audit key file
        raise fail(str(e)) from None
    except (ArgumentError, OperationalError, ValueError) as e:
        raise fail(f"cannot open billing database {shown}: {e}") from None
    try:
        yield c
    except BillingBusy as e:
        raise fail(str(e), EXIT_BUSY) from None
    except BillingStorageError as e:
        raise fail(str(e), EXIT_STORAGE) from None
    except VendRefused as e:
        raise fail(str(e), EXIT_USAGE if e.reason in _BAD_INPUT else EXIT_REFUSED) from None
    except (NotFound, Conflict, PermissionDenied) as e:
        raise fail(str(e), EXIT_REFUSED) from None
    except (RigError, ValueError) as e:
        raise fail(str(e)) from None
    finally:
        c.close()
