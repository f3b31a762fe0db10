"""A database that cannot store — read-only, full, failing or unreachable — as one typed error.

The driver says "attempt to write a readonly database", "database or disk is full" or "disk
I/O error" deep inside a traceback (the CLI printed ~200 lines of it, the REST API "internal
error (OperationalError)"). The transaction was rolled back in every case, so the operator
needs two things: what failed, and that nothing was committed. :class:`BillingStorageError`
says both; the CLI prints it as one line (exit 74, EX_IOERR) and the REST API answers 503 with
``reason`` = :attr:`BillingStorageError.kind`.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from rig.errors import BillingError

EXIT_STORAGE = 74  # sysexits EX_IOERR

# SQLite primary result codes (the low byte of an extended code) → (kind, what happened).
SQLITE = {
    3: ("read_only", "the operating system refused access to the database file"),
    8: ("read_only", "the database is read-only"),
    10: ("io_error", "the disk reported an I/O error"),
    11: ("corrupt", "the database file is corrupt"),
    13: ("disk_full", "the disk is full"),
    14: ("cannot_open", "the database file cannot be opened"),
    26: ("corrupt", "the file is not a SQLite database"),
}
# PostgreSQL SQLSTATE (exact, then by class) → (kind, what happened).
POSTGRES = {
    "25006": ("read_only", "the database server is read-only (a standby, or "
                           "default_transaction_read_only)"),
    "53100": ("disk_full", "the database server's disk is full"),
    "53200": ("out_of_memory", "the database server ran out of memory"),
    "58030": ("io_error", "the database server reported an I/O error"),
}
POSTGRES_CLASSES = {
    "08": ("unavailable", "the connection to the database server failed"),
    "53": ("resources", "the database server ran out of resources"),
    "57": ("unavailable", "the database server is shutting down or cancelled the work"),
    "58": ("io_error", "the database server reported a system error"),
    "XX": ("corrupt", "the database server reported an internal error (corruption?)"),
}
SUPPORTED = "SQLite (sqlite:///PATH) and PostgreSQL (postgresql+psycopg://USER@HOST/DB)"


class BillingStorageError(BillingError):
    """The database could not read or store; nothing was committed. ``kind``: read_only,
    disk_full, io_error, corrupt, cannot_open, unavailable, out_of_memory or resources."""

    def __init__(self, message: str, *, kind: str, operation: str, database: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.reason = kind
        self.operation = operation
        self.database = database


class UnsupportedDatabase(BillingError, ValueError):
    """A URL for a database the billing centre does not run on."""


def check_supported(url: URL) -> None:
    backend = url.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise UnsupportedDatabase(
            f"{backend}:// databases are not supported by the billing centre; use {SUPPORTED}")


def storage_error(exc: BaseException, operation: str, url: URL) -> BillingStorageError | None:
    """``exc`` as a :class:`BillingStorageError` if the database failed to store or answer
    (not a constraint or a busy lock: those have their own meaning), else None."""
    if not isinstance(exc, DBAPIError) or exc.orig is None:
        return None
    orig = exc.orig
    said = (str(orig).strip().splitlines() or [type(orig).__name__])[0][:200]
    code = getattr(orig, "sqlite_errorcode", None)
    if code is not None:
        found = SQLITE.get(code & 0xFF)
        if found is None:
            return None
        kind, what = found
        if kind in ("cannot_open", "io_error") and _sqlite_read_only(url):
            kind, what = "read_only", "the database file or its folder is read-only"
    elif url.get_backend_name() == "postgresql":
        state = getattr(orig, "sqlstate", None) or ""
        found = POSTGRES.get(state) or POSTGRES_CLASSES.get(state[:2])
        if found is None and not state and exc.connection_invalidated:
            found = POSTGRES_CLASSES["08"]
        if found is None:
            return None
        kind, what = found
    else:
        return None
    shown = url.render_as_string(hide_password=True)
    return BillingStorageError(
        f"billing database {shown}: {operation} failed: {what} ({said}); nothing was "
        "committed", kind=kind, operation=operation, database=shown)


def _sqlite_read_only(url: URL) -> bool:
    """Whether the SQLite file (or, if it does not exist, its folder) cannot be written: a
    read-only file system or file. The driver only says "unable to open" or "I/O error"."""
    path = sqlite_path(url)
    if path is None:
        return False
    target = path if path.exists() else path.parent
    return target.exists() and not os.access(target, os.W_OK)


def sqlite_path(url: URL) -> Path | None:
    """The file of a SQLite URL; None for an in-memory database or a ``file:`` URI."""
    name = url.database
    if url.get_backend_name() != "sqlite" or not name or name == ":memory:" \
            or name.startswith("file:") or url.query.get("uri"):
        return None
    return Path(name)


def create_private_file(url: URL) -> None:
    """Create a new SQLite database file readable by its owner only (0600) before SQLite does
    (it would create it 0644 under the usual umask); SQLite gives the WAL and shared-memory
    files the database file's mode. An existing file is left as it is."""
    path = sqlite_path(url)
    if path is None or path.exists():
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process created it meanwhile
    except OSError:
        return  # SQLite will report why it cannot create it, naming the database
    os.close(fd)
