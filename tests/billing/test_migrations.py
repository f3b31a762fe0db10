"""The packaged Alembic migrations are the schema: they must equal the ORM models."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from rig.billing import create_billing_engine, upgrade
from rig.billing.engine import alembic_config
from rig.billing.models import Base


@pytest.fixture
def engine(tmp_path: Path):
    eng = create_billing_engine(f"sqlite:///{tmp_path / 'm.sqlite'}")
    yield eng
    eng.dispose()


def test_migrated_schema_matches_models(engine) -> None:
    upgrade(engine)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


def test_single_head_and_packaged_files() -> None:
    cfg = alembic_config()
    script = ScriptDirectory.from_config(cfg)
    assert len(script.get_heads()) == 1
    migrations = Path(script.dir)
    assert (migrations / "script.py.mako").is_file()
    assert (migrations / "env.py").is_file()


def test_downgrade_to_base_and_back(engine) -> None:
    upgrade(engine)
    command.downgrade(alembic_config(engine), "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(engine)
    assert {"vends", "readbacks", "reconciliations"} <= set(inspect(engine).get_table_names())


def test_no_float_columns() -> None:
    from sqlalchemy import Float

    floats = [
        f"{t.name}.{c.name}"
        for t in Base.metadata.tables.values()
        for c in t.columns
        if isinstance(c.type, Float)
    ]
    assert floats == []
