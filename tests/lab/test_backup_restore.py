"""The restore drills of docs/lab.md: a pg_dump of a lab ledger (and a SQLite `.backup` of a
bench's) restores to the same vends with the audit chain intact."""

from __future__ import annotations

import os
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from rig.billing import open_billing
from rig.billing.postgres import scratch_database
from rig.billing.types import VendResult
from rig.station import loadgen

METERS = loadgen.meter_numbers(2)


def _ledger(url: str) -> tuple[dict[str, list[VendResult]], int]:
    """Every vend per meter and the number of audit events (after verifying the chain)."""
    with open_billing(url) as centre:
        report = centre.verify_audit_chain()
        assert report.ok, report
        return {m: centre.vends_for_meter(m) for m in METERS}, report.events


def _fill(url: str) -> None:
    with open_billing(url) as centre:
        loadgen.prepare(centre, meters=METERS, stations=["DESK-1"])
        for step in range(3):
            for meter in METERS:
                loadgen.present(centre, meter, request_id=f"{meter}-{step}", station="DESK-1",
                                amount=Decimal("12.34"), bank=False)


def _libpq(url: str) -> tuple[list[str], dict[str, str]]:
    """Connection options for the PostgreSQL tools; the password goes in the environment."""
    u = make_url(url)
    args = ["-h", u.host or "127.0.0.1", "-p", str(u.port or 5432), "-U", u.username or "rig"]
    return args, {**os.environ, "PGPASSWORD": u.password or ""}


def test_pg_dump_restores_the_ledger(pg_url: str, tmp_path: Path) -> None:
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("pg_dump/pg_restore not installed (./setup.sh installs PostgreSQL)")
    _fill(pg_url)
    before = _ledger(pg_url)
    dump = tmp_path / "rig_billing.dump"
    args, env = _libpq(pg_url)
    source = make_url(pg_url).database or ""
    subprocess.run(["pg_dump", *args, "-Fc", "-f", str(dump), source], env=env, check=True)
    with scratch_database(prefix="rig_lab_drill") as drill:
        subprocess.run(["pg_restore", *args, "-d", make_url(drill).database or "",
                        "--no-owner", "--exit-on-error", str(dump)], env=env, check=True)
        after = _ledger(drill)
    assert after == before
    assert sum(len(v) for v in after[0].values()) == 3 * len(METERS)


def test_sqlite_backup_restores_the_ledger(tmp_path: Path) -> None:
    if shutil.which("sqlite3") is None:
        pytest.skip("the sqlite3 shell is not installed")
    live = tmp_path / "billing.sqlite"
    _fill(f"sqlite:///{live}")
    copy = tmp_path / "backup.sqlite"
    subprocess.run(["sqlite3", str(live), f".backup '{copy}'"], check=True)
    assert _ledger(f"sqlite:///{copy}") == _ledger(f"sqlite:///{live}")
