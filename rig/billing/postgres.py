"""PostgreSQL for a lab billing centre: where the local server is, and throw-away databases.

setup.sh starts a local PostgreSQL with role `rig` (allowed to create databases) and database
`rig_billing`; `RIG_POSTGRES_URL` points elsewhere. Tests and benchmarks each get a scratch
database of their own, so runs in parallel (pytest-xdist workers, several benches) never see
each other's rows, and the database is dropped afterwards even when the run failed.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

from sqlalchemy.engine import URL, make_url

from rig.errors import ConfigError

DEFAULT_POSTGRES_URL = "postgresql+psycopg://rig:rig@127.0.0.1:5432/rig_billing"


def postgres_url() -> str:
    """The lab PostgreSQL's URL: $RIG_POSTGRES_URL, else the one setup.sh creates."""
    return os.environ.get("RIG_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def _libpq(url: URL) -> dict[str, object]:
    return {"host": url.host or "127.0.0.1", "port": url.port or 5432, "user": url.username,
            "password": url.password, "dbname": url.database, "connect_timeout": 5}


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
def scratch_database(url: str | None = None, prefix: str = "rig_scratch") -> Iterator[str]:
    """Create an empty database beside `url`'s, yield its URL, drop it on the way out."""
    import psycopg
    from psycopg import sql

    base = make_url(url or postgres_url())
    if base.get_backend_name() != "postgresql":
        raise ConfigError(f"scratch databases need a postgresql URL, not {base.drivername!r}")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(**_libpq(base), autocommit=True) as admin:  # type: ignore[arg-type]
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(**_libpq(base), autocommit=True) as admin:  # type: ignore[arg-type]
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                          .format(sql.Identifier(name)))
