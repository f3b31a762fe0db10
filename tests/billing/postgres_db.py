"""A scratch PostgreSQL database for a test, or the reason there is none.

Replaying every Alembic migration into each test's new PostgreSQL database cost about 0.25 s of
the test's CPU and 3–5 s of wall time (178 tests of the suite); a migrated one is instead
cloned from a template database (`CREATE DATABASE … TEMPLATE`, about 1 s) that the migrations
made once, named after the hash of the migration scripts (as rig.billing.schema_template does
for SQLite), so a changed migration makes a new template. The lab tests keep an empty database
that the served centre migrates, as a new lab's does.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from rig.billing.engine import create_billing_engine, upgrade
from rig.billing.postgres import admin_connection, postgres_url, reachable, scratch_database
from rig.billing.schema_template import migrations_digest


@contextmanager
def scratch_postgres(prefix: str, migrated: bool = False) -> Iterator[str]:
    """A fresh database's URL, dropped afterwards: empty, or at the head schema with no rows
    (`migrated`). Without a reachable server the test is skipped on a workstation and fails
    under CI, where ./setup.sh must have started one."""
    why = reachable()
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    template = migrated_template() if migrated else None
    with scratch_database(prefix=prefix, template=template) as url:
        yield url


def migrated_template() -> str:
    """The name of the template database the packaged migrations made, made if missing.

    Built under a name of its own and renamed when complete, so a concurrent worker either
    finds the whole template or builds its own and drops it after losing the rename; no one
    may connect to it afterwards (a session on it would make every clone fail)."""
    from psycopg import errors, sql

    migrations = Path(str(resources.files("rig.billing"))) / "migrations"
    name = f"rig_template_{migrations_digest(migrations)[:16]}"
    base = make_url(postgres_url())
    with admin_connection(base) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return name
        building = f"rig_template_build_{uuid.uuid4().hex[:12]}"
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(building)))
        try:
            engine = create_billing_engine(
                base.set(database=building).render_as_string(hide_password=False))
            try:
                upgrade(engine)
            finally:
                engine.dispose()
            admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(
                sql.Identifier(building)))
            admin.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                sql.Identifier(building), sql.Identifier(name)))
        except errors.DuplicateDatabase:  # another worker's template came first
            pass
        finally:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(building)))
    return name
