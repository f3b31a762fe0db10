"""Opening the billing database: engine settings and programmatic Alembic upgrade.

The schema is owned by the packaged Alembic migrations, never by ``metadata.create_all``, so
a bench database created today can be upgraded by any later release of rig.
"""

from __future__ import annotations

import threading
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from rig.billing.service import BillingCentre
    from rig.billing.types import VendLimits

DEFAULT_URL = "sqlite:///billing.sqlite"
# Alembic keeps its running context in module globals: two threads upgrading at once corrupt it.
_UPGRADE_LOCK = threading.Lock()


def _package_dir() -> Path:
    return Path(str(resources.files("rig.billing")))


def alembic_config(engine: Engine | None = None) -> Config:
    """Alembic config pointing at the packaged migrations (works from a wheel or a checkout)."""
    pkg = _package_dir()
    cfg = Config(str(pkg / "alembic.ini"))
    cfg.set_main_option("script_location", str(pkg / "migrations"))
    if engine is not None:
        # Hand the engine over instead of the URL: no %-escaping, same pragmas as the service.
        cfg.attributes["engine"] = engine
    return cfg


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        # Stations queue for the write lock (BEGIN IMMEDIATE); on a busy machine 5 s ran out
        # under four stations, so a vend waits up to 30 s before it fails.
        cursor.execute("PRAGMA busy_timeout=30000")
    finally:
        cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # pysqlite would otherwise only BEGIN before the first write, so a vend's read of the last
    # sequence would sit outside its transaction. IMMEDIATE takes the write lock up front:
    # two vending processes on one file serialise instead of failing half-way.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_billing_engine(url: str = DEFAULT_URL, **engine_kwargs: Any) -> Engine:
    """Engine with the settings the ledger relies on (SQLite: FKs on, WAL, real transactions)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, **engine_kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    engine_kwargs.setdefault("pool_pre_ping", True)
    return create_engine(parsed, **engine_kwargs)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the packaged migrations up to ``revision`` on ``engine``."""
    with _UPGRADE_LOCK:
        command.upgrade(alembic_config(engine), revision)


def open_billing(
    url: str = DEFAULT_URL,
    *,
    limits: VendLimits | None = None,
    clock: Callable[[], datetime] | None = None,
    **engine_kwargs: Any,
) -> BillingCentre:
    """Open (creating or upgrading as needed) a billing database and return its centre.

    ``url`` is any SQLAlchemy URL, e.g. ``sqlite:///bench/billing.sqlite`` or
    ``postgresql+psycopg://rig@localhost/billing``. ``clock`` lets the emulated bench drive
    the centre with its accelerated time.
    """
    from rig.billing.service import BillingCentre

    engine = create_billing_engine(url, **engine_kwargs)
    upgrade(engine)
    return BillingCentre(engine, limits=limits, clock=clock)
