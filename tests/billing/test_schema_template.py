"""A new SQLite run database is seeded from a template the migrations made, and equals a
database the migrations built step by step: tables, indexes, triggers and the Alembic stamp."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from alembic import command

from rig import user_cache
from rig.billing import open_billing, schema_template
from rig.billing.engine import _package_dir, alembic_config, create_billing_engine, upgrade

MIGRATIONS = _package_dir() / "migrations"


def _schema(path: Path) -> tuple[list[tuple[str, str, str, list[str]]], list[str]]:
    """Every object of the database with its SQL as a sorted list of clauses: Alembic's batch
    mode on SQLite writes a rebuilt table's constraints in set order, which differs from one
    process to the next, so two runs of the same migrations differ only in that order."""
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master "
                          "ORDER BY type, name").fetchall()
        stamp = [r[0] for r in db.execute("SELECT version_num FROM alembic_version")]
    objects = [(kind, name, table, sorted(line.strip().rstrip(",")
                                          for line in (sql or "").splitlines()))
               for kind, name, table, sql in rows]
    return objects, stamp


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(user_cache.CACHE_ENV, str(folder))
    return folder


def test_seeded_database_equals_the_migrated_one(tmp_path: Path, cache: Path) -> None:
    migrated = tmp_path / "migrated.sqlite"
    engine = create_billing_engine(f"sqlite:///{migrated}")
    command.upgrade(alembic_config(engine), "head")  # every migration, no template
    engine.dispose()

    seeded = tmp_path / "seeded.sqlite"
    engine = create_billing_engine(f"sqlite:///{seeded}")
    assert schema_template.seed_new_database(engine, MIGRATIONS, _migrate)
    upgrade(engine)  # finds the stamp at head: nothing to do
    engine.dispose()

    objects, stamp = _schema(seeded)
    assert (objects, stamp) == _schema(migrated)
    assert {"table", "index"} <= {kind for kind, *_ in objects}
    assert len(list((cache / "billing-schema").glob("*.sqlite"))) == 1


def test_a_new_run_database_works_and_stays_private(tmp_path: Path, cache: Path) -> None:
    db = tmp_path / "run" / "billing.sqlite"
    db.parent.mkdir()
    centre = open_billing(f"sqlite:///{db}")
    centre.engine.dispose()
    assert (db.stat().st_mode & 0o777) == 0o600
    assert list((cache / "billing-schema").glob("*.sqlite"))  # it came from the template


def test_an_existing_database_is_never_overwritten(tmp_path: Path, cache: Path) -> None:
    db = tmp_path / "old.sqlite"
    engine = create_billing_engine(f"sqlite:///{db}")
    upgrade(engine, "0005")  # an older centre: the migrations take it from here
    assert not schema_template.seed_new_database(engine, MIGRATIONS, _migrate)
    upgrade(engine)
    engine.dispose()
    assert _schema(db)[1] == _schema_head(tmp_path)


def test_a_changed_migration_makes_a_new_template(tmp_path: Path) -> None:
    copy = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = schema_template.migrations_digest(copy)
    assert before == schema_template.migrations_digest(MIGRATIONS)
    script = next((copy / "versions").glob("0001_*.py"))
    script.write_text(script.read_text() + "\n# changed\n")
    assert schema_template.migrations_digest(copy) != before


def _migrate(url: str) -> None:
    engine = create_billing_engine(url)
    command.upgrade(alembic_config(engine), "head")
    engine.dispose()


def _schema_head(tmp_path: Path) -> list[str]:
    head = tmp_path / "head.sqlite"
    _migrate(f"sqlite:///{head}")
    return _schema(head)[1]
