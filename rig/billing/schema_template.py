"""A fresh SQLite billing database copied from a migrated template instead of migrating anew.

Replaying every Alembic migration on each new run database costs a second or two; a run's
database is always new. The migrations stay the only source of the schema: the template is
made by running them once into a cache file named after a hash of the migration scripts, so
any change to a migration makes a new template. A new (empty) database file then gets the
template's pages through SQLite's backup API, already stamped at the head revision; the usual
upgrade that follows finds nothing to do. Anything unusual (not a file, not empty, no cache
folder) falls back to the migrations.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

from rig.billing.storage import sqlite_path
from rig.user_cache import cache_dir


def migrations_digest(migrations: Path) -> str:
    """Hash of every migration script (names and bytes): the template's identity."""
    h = hashlib.sha256()
    for path in sorted(p for p in migrations.rglob("*") if p.suffix in (".py", ".mako")
                       and "__pycache__" not in p.parts):
        h.update(str(path.relative_to(migrations)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:32]


def template_for(migrations: Path, migrate: Callable[[str], None]) -> Path:
    """The migrated template for these scripts, made with `migrate(sqlite_url)` if missing.

    Made in a temporary file and renamed into place, so concurrent runs never see half a
    template."""
    folder = cache_dir() / "billing-schema"
    target = folder / f"{migrations_digest(migrations)}.sqlite"
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".template-", suffix=".sqlite")
    os.close(fd)
    try:
        migrate(f"sqlite:///{tmp}")
        with contextlib.closing(sqlite3.connect(tmp)) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            db.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        os.replace(tmp, target)
    finally:
        for leftover in (tmp, f"{tmp}-wal", f"{tmp}-shm"):
            with contextlib.suppress(OSError):
                os.unlink(leftover)
    return target


def seed_new_database(engine: Engine, migrations: Path, migrate: Callable[[str], None]) -> bool:
    """Copy the template into `engine`'s database if it is a new, empty SQLite file.

    True if seeded; False (nothing done) for any other database, or when no template can be
    made here (the caller then migrates as usual)."""
    path = sqlite_path(engine.url)
    if path is None or not path.exists() or path.stat().st_size != 0:
        return False
    try:
        template = template_for(migrations, migrate)
    except OSError:
        return False  # no writable cache: migrate in place
    # flock on the file itself (SQLite locks with fcntl byte ranges, which flock leaves alone):
    # two processes opening one new file seed it once, and never over the other's data.
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with contextlib.closing(sqlite3.connect(template)) as src, \
                contextlib.closing(sqlite3.connect(path)) as dst:
            if dst.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                return False  # another opener seeded or migrated it first
            src.backup(dst)
    finally:
        os.close(fd)  # releases the flock
    return True
