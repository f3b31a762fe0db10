"""PostgreSQL for a lab billing centre: where the local server is, and throw-away databases.

setup.sh starts a local PostgreSQL with role `rig` (allowed to create databases) and database
`rig_billing`; `RIG_POSTGRES_URL` points elsewhere. Tests and benchmarks each get a scratch
database of their own, so runs in parallel (pytest-xdist workers, several benches) never see
each other's rows, and the database is dropped afterwards even when the run failed.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import URL, make_url

from rig.errors import ConfigError

if TYPE_CHECKING:
    import psycopg  # optional (rig[postgres]): imported where used

DEFAULT_POSTGRES_URL = "postgresql+psycopg://rig:rig@127.0.0.1:5432/rig_billing"


def postgres_url() -> str:
    """The lab PostgreSQL's URL: $RIG_POSTGRES_URL, else the one setup.sh creates."""
    return os.environ.get("RIG_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def _libpq(url: URL) -> dict[str, object]:
    return {"host": url.host or "127.0.0.1", "port": url.port or 5432, "user": url.username,
            "password": url.password, "dbname": url.database, "connect_timeout": 5}


def admin_connection(base: URL) -> psycopg.Connection[Any]:
    """An autocommit connection to `base`'s database, for CREATE and DROP DATABASE."""
    import psycopg

    return psycopg.connect(**_libpq(base), autocommit=True)  # type: ignore[arg-type]


def reachable(url: str | None = None) -> str | None:
    """None when the server answers at `url`, else why not (for a skip or an error)."""
    import psycopg

    parsed = make_url(url or postgres_url())
    try:
        psycopg.connect(**_libpq(parsed)).close()  # type: ignore[arg-type]
    except psycopg.Error as e:
        return (f"PostgreSQL at {parsed.render_as_string(hide_password=True)} not reachable "
                f"({str(e).strip()}); ./setup.sh starts a local one")
    return None


@contextlib.contextmanager
def scratch_database(url: str | None = None, prefix: str = "rig_scratch",
                     template: str | None = None) -> Iterator[str]:
    """Create an empty database beside `url`'s (a copy of database `template` if given),
    yield its URL, drop it on the way out."""
    from psycopg import sql

    base = make_url(url or postgres_url())
    if base.get_backend_name() != "postgresql":
        raise ConfigError(f"scratch databases need a postgresql URL, not {base.drivername!r}")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        create += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
    with admin_connection(base) as admin:
        admin.execute(create)
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        _drop(base, name)


def _drop(base: URL, name: str, wait_s: float = 10.0) -> None:
    """Drop `name`, ending our own leftover sessions; an autovacuum worker (a superuser
    process we may not terminate) can hold it for a moment, so retry until it has gone."""
    from psycopg import errors, sql

    deadline = time.monotonic() + wait_s
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    while True:
        try:
            with admin_connection(base) as admin:
                admin.execute(drop)
            return
        except (errors.InsufficientPrivilege, errors.ObjectInUse):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
