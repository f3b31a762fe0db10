"""A database that cannot store (issue 19, section 6): the CLI prints one line saying what
failed and that nothing was committed, the REST API answers 503 saying the same; the SQLite
files are private to their owner; a URL for an unsupported database names the supported ones.

Disk full and read-only are real: a small tmpfs is filled up, or remounted read-only (needs
root, as ./setup.sh and CI run; skipped elsewhere)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from rig.billing import open_billing
from rig.billing.storage import UnsupportedDatabase
from tests.billing.api_helpers import METER, STATION, clock, seed
from tests.billing.live_server import serving

pytestmark = pytest.mark.filterwarnings("ignore:Dialect sqlite.*Decimal objects natively")


def cli(db: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`rig billing …` in its own process, as an operator runs it."""
    return subprocess.run([sys.executable, "-m", "rig.cli.main", "billing", *args, "--db", db],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COLUMNS": "200"})


def one_clear_line(done: subprocess.CompletedProcess[str], *words: str) -> str:
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr  # no traceback
    assert lines[0].startswith("error: "), lines
    assert "Traceback" not in done.stderr and "OperationalError" not in done.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs of its own, unmounted afterwards."""
    where = tmp_path / "disk"
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs",
                           str(where)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def seeded(path: Path) -> str:
    url = f"sqlite:///{path}"
    with open_billing(url, clock=clock()) as c:
        seed(c)
    return url  # closed: the write-ahead log is checkpointed and removed


def fill(disk: Path) -> Path:
    ballast = disk / "ballast"
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, bytes(65536))
    except OSError:
        pass  # ENOSPC: the disk is full
    finally:
        os.close(fd)
    return ballast


def test_sqlite_files_are_created_private(tmp_path: Path) -> None:
    with open_billing(f"sqlite:///{tmp_path / 'b.sqlite'}", clock=clock()) as c:
        seed(c)
        c.vend(METER, Decimal("10.00"), request_id="r", station=STATION, operator="carol")
        files = sorted(p.name for p in tmp_path.iterdir())
        assert files == ["b.sqlite", "b.sqlite-shm", "b.sqlite-wal"]
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert modes == dict.fromkeys(files, 0o600)


def test_a_mysql_url_says_which_databases_are_supported(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedDatabase, match=r"mysql:// .*SQLite.*PostgreSQL"):
        open_billing("mysql://rig@localhost/billing")
    done = cli("mysql://rig@localhost/billing", "customers", "list")
    assert done.returncode == 2
    one_clear_line(done, "mysql:// databases are not supported", "sqlite:///", "postgresql")


def vend_over_http(base: str, secret: str, request_id: str) -> httpx.Response:
    return httpx.post(f"{base}/vends", timeout=60,
                      headers={"Authorization": f"Bearer {secret}"}, json={
        "meter_no": METER, "amount": "10.00", "request_id": request_id, "station": STATION})


def test_a_full_disk_is_named_and_nothing_is_committed(small_disk: Path) -> None:
    url = seeded(small_disk / "billing.sqlite")
    with open_billing(url, clock=clock()) as c, serving(c) as base:
        secret = c.create_api_token("carol", actor="ann", stations=[STATION]).secret
        ballast = fill(small_disk)
        done = cli(url, "vend", METER, "10.00", "--station", STATION, "--as", "carol")
        assert done.returncode == 74, done.stderr
        one_clear_line(done, "the disk is full", "nothing was committed")
        r = vend_over_http(base, secret, "api-1")
        assert r.status_code == 503, r.text
        body = r.json()
        assert (body["error"], body["reason"]) == ("storage", "disk_full")
        assert "the disk is full" in body["detail"] and "nothing was committed" in body["detail"]
        ballast.unlink()
        assert c.vends_for_meter(METER) == []  # nothing half-written by either
        assert vend_over_http(base, secret, "api-1").status_code == 201  # now there is room
        assert [v.request_id for v in c.vends_for_meter(METER)] == ["api-1"]


def test_a_read_only_database_is_named(small_disk: Path, tmp_path: Path) -> None:
    url = seeded(small_disk / "billing.sqlite")
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    done = cli(url, "vend", METER, "10.00", "--station", STATION, "--as", "carol")
    assert done.returncode == 74, done.stderr
    one_clear_line(done, "read-only", "nothing was committed")
    # A server on a read-only copy (SQLite's mode=ro) answers reads and refuses writes.
    copy = tmp_path / "copy.sqlite"
    copy.write_bytes((small_disk / "billing.sqlite").read_bytes())
    with open_billing(f"sqlite:///{copy}", clock=clock()) as c:
        secret = c.create_api_token("carol", actor="ann", stations=[STATION]).secret
    with open_billing(f"sqlite:///file:{copy}?mode=ro&uri=true", clock=clock()) as c, \
            serving(c) as base:
        me = httpx.get(f"{base}/me", timeout=60, headers={"Authorization": f"Bearer {secret}"})
        assert me.status_code == 200 and me.json()["name"] == "carol"
        r = vend_over_http(base, secret, "api-ro")
        assert r.status_code == 503, r.text
        assert (r.json()["error"], r.json()["reason"]) == ("storage", "read_only")
        assert "read-only" in r.json()["detail"] and "nothing was committed" in r.json()["detail"]
        assert c.vends_for_meter(METER) == []
