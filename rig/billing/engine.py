"""The billing database's engine: its settings and the programmatic Alembic upgrade.

The centre over it is opened by :func:`rig.billing.centre.open_billing`.

The schema is owned by the packaged Alembic migrations, never by ``metadata.create_all``, so
a bench database created today can be upgraded by any later release of rig.
"""

from __future__ import annotations

import functools
import threading
import weakref
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from rig.billing.busy import busy_error
from rig.billing.schema_template import seed_new_database
from rig.billing.storage import check_supported, create_private_file, storage_error
from rig.extras import require

if TYPE_CHECKING:  # Alembic is imported where a migration runs, not by every centre opened
    from alembic.config import Config

DEFAULT_URL = "sqlite:///billing.sqlite"
# Stations queue for the write lock (SQLite) or a meter's row lock (PostgreSQL); on a busy
# machine 5 s ran out under four stations, so an operation waits up to 30 s before it fails
# with BillingBusy (rig.billing.busy).
DEFAULT_LOCK_WAIT_S = 30.0
_LOCK_WAIT: weakref.WeakKeyDictionary[Engine, float] = weakref.WeakKeyDictionary()
# Alembic keeps its running context in module globals: two threads upgrading at once corrupt it.
_UPGRADE_LOCK = threading.Lock()


def _package_dir() -> Path:
    return Path(str(resources.files("rig.billing")))


def alembic_config(engine: Engine | None = None) -> Config:
    """Alembic config pointing at the packaged migrations (works from a wheel or a checkout)."""
    from alembic.config import Config

    pkg = _package_dir()
    cfg = Config(str(pkg / "alembic.ini"))
    cfg.set_main_option("script_location", str(pkg / "migrations"))
    if engine is not None:
        # Hand the engine over instead of the URL: no %-escaping, same pragmas as the service.
        cfg.attributes["engine"] = engine
    return cfg


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, *, lock_wait_s: float) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={round(lock_wait_s * 1000)}")
    finally:
        cursor.close()


READ_ONLY = "rig_read_only"  # execution option: a transaction that only reads (a price quote)


def _sqlite_begin(conn: Any) -> None:
    # pysqlite would otherwise only BEGIN before the first write, so a vend's read of the last
    # sequence would sit outside its transaction. IMMEDIATE takes the write lock up front:
    # two vending processes on one file serialise instead of failing half-way. A read-only
    # transaction (READ_ONLY) begins deferred: it takes no write lock and waits for none.
    read_only = conn.get_execution_options().get(READ_ONLY, False)
    conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def create_billing_engine(
    url: str = DEFAULT_URL, *, lock_wait_s: float = DEFAULT_LOCK_WAIT_S, **engine_kwargs: Any
) -> Engine:
    """Engine with the settings the ledger relies on (SQLite: FKs on, WAL, real transactions).

    ``lock_wait_s`` is how long an operation waits for a lock another station holds (SQLite
    busy timeout, PostgreSQL ``lock_timeout``) before it fails with ``BillingBusy``.
    """
    if not lock_wait_s > 0:
        raise ValueError(f"lock_wait_s must be a positive number of seconds, not {lock_wait_s!r}")
    parsed = make_url(url)
    check_supported(parsed)
    if parsed.get_backend_name() == "sqlite":
        create_private_file(parsed)  # 0600: a ledger is nobody else's business
        engine = create_engine(parsed, **engine_kwargs)
        event.listen(engine, "connect",
                     functools.partial(_sqlite_pragmas, lock_wait_s=lock_wait_s))
        event.listen(engine, "begin", _sqlite_begin)
    else:
        engine_kwargs.setdefault("pool_pre_ping", True)
        if parsed.get_backend_name() == "postgresql":
            if parsed.get_driver_name() == "psycopg":
                require("postgres", "psycopg", "a PostgreSQL billing centre")
            args = dict(engine_kwargs.pop("connect_args", {}))
            wait = f"-c lock_timeout={round(lock_wait_s * 1000)}"
            args["options"] = f"{args['options']} {wait}" if args.get("options") else wait
            engine_kwargs["connect_args"] = args
        engine = create_engine(parsed, **engine_kwargs)
    _LOCK_WAIT[engine] = lock_wait_s
    return engine


def lock_wait_seconds(engine: Engine) -> float | None:
    """How long ``engine`` waits for a lock (None: not made by :func:`create_billing_engine`)."""
    return _LOCK_WAIT.get(engine)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the packaged migrations up to ``revision`` on ``engine`` (``BillingBusy`` if another
    station holds the database lock past the engine's wait limit).

    A new SQLite file seeded from the migrated template is at head already (the template is
    made by these very migration scripts, and named after their hash): no migration runs, and
    Alembic is not even imported."""
    with _UPGRADE_LOCK:
        try:
            if revision == "head" and seed_new_database(  # a new SQLite file: the template
                    engine, _package_dir() / "migrations", _migrate_new):
                return
            from alembic import command

            command.upgrade(alembic_config(engine), revision)
        except DBAPIError as e:
            busy = busy_error(e, "opening (schema check/upgrade)",
                              engine.url.render_as_string(hide_password=True),
                              lock_wait_seconds(engine))
            failed = busy or storage_error(e, "opening (schema check/upgrade)", engine.url)
            if failed is None:
                raise
            raise failed from e


def _migrate_new(url: str) -> None:
    """Run every migration on a new database (the template of rig.billing.schema_template)."""
    from alembic import command

    engine = create_billing_engine(url)
    try:
        command.upgrade(alembic_config(engine), "head")
    finally:
        engine.dispose()
