"""A database held locked by another station: the caller gets BillingBusy (REST: 503 with
Retry-After, remote client: the same error, CLI: a clear message and exit 75), nothing is
written, and the same request retried once the lock is free makes exactly one vend."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from rig.billing import BillingBusy, BillingCentre, open_billing
from rig.billing.busy import busy_error
from rig.billing.remote import RemoteBillingCentre
from rig.station import loadgen
from tests.billing.api_helpers import METER, STATION, seed
from tests.billing.live_server import serving

WAIT_S = 0.3
AMOUNT = Decimal("12.00")


@contextmanager
def held_lock(url: str) -> Iterator[None]:
    """Another station's transaction holding what a vend needs: SQLite's write lock, or the
    meter's row lock on PostgreSQL. Rolled back on the way out (it commits nothing)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        con = sqlite3.connect(parsed.database, isolation_level=None)
        con.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            con.execute("ROLLBACK")
            con.close()
        return
    with psycopg.connect(host=parsed.host, port=parsed.port, user=parsed.username,
                         password=parsed.password, dbname=parsed.database) as con:
        con.execute("SELECT id FROM meters WHERE meter_no = %s FOR UPDATE", (METER,))
        yield
        con.rollback()


@pytest.fixture
def centre(billing_url: str) -> Iterator[BillingCentre]:
    c = open_billing(billing_url, lock_wait_s=WAIT_S)
    loadgen.prepare(c, meters=[METER], stations=[STATION])
    yield c
    c.close()


def test_a_locked_database_refuses_with_busy_and_a_retry_vends_once(
        centre: BillingCentre, billing_url: str) -> None:
    events = len(centre.audit_log())
    with held_lock(billing_url), pytest.raises(BillingBusy) as busy:
        centre.vend(METER, AMOUNT, request_id="busy-1", station=STATION,
                    operator=loadgen.OPERATOR)
    e = busy.value
    assert e.operation == "vend"
    assert e.database == make_url(billing_url).render_as_string(hide_password=True)
    assert "safe to retry" in str(e) and "nothing was committed" in str(e)
    assert e.database in str(e) and "vend" in str(e)
    assert centre.vends_for_meter(METER) == []
    assert centre.meter(METER).last_sequence == 0
    assert len(centre.audit_log()) == events
    first = centre.vend(METER, AMOUNT, request_id="busy-1", station=STATION,
                        operator=loadgen.OPERATOR)
    again = centre.vend(METER, AMOUNT, request_id="busy-1", station=STATION,
                        operator=loadgen.OPERATOR)
    assert again == first and first.sequence == 1
    assert [v.vend_id for v in centre.vends_for_meter(METER)] == [first.vend_id]
    assert centre.verify_audit_chain().ok


def test_a_price_quote_neither_takes_nor_waits_for_the_lock_a_sale_holds(
        centre: BillingCentre, billing_url: str) -> None:
    """The counter's receipt preview answers while another station is mid-sale (it only
    reads), and prices exactly what the sale then sells."""
    events = len(centre.audit_log())
    with held_lock(billing_url):
        quote = centre.quote_vend(METER, AMOUNT, station=STATION, operator=loadgen.OPERATOR)
    assert len(centre.audit_log()) == events and centre.meter(METER).last_sequence == 0
    sold = centre.vend(METER, AMOUNT, request_id="after-quote", station=STATION,
                       operator=loadgen.OPERATOR)
    assert (quote.vend_id, quote.sequence) == (0, sold.sequence)
    assert (quote.receipt, quote.credit, quote.amount) == (sold.receipt, sold.credit, sold.amount)


def test_sqlite_busy_names_the_wait(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.sqlite'}"
    with open_billing(url, lock_wait_s=WAIT_S) as c:
        loadgen.prepare(c, meters=[METER], stations=[STATION])
        with held_lock(url), pytest.raises(BillingBusy, match=r"write lock within 0\.3 s"):
            c.meter(METER)  # reads take the lock too (BEGIN IMMEDIATE)


def test_opening_a_locked_database_is_busy_too(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.sqlite'}"
    open_billing(url).close()
    with held_lock(url), pytest.raises(BillingBusy, match="opening"):
        open_billing(url, lock_wait_s=WAIT_S)


def test_lock_wait_must_be_positive() -> None:
    with pytest.raises(ValueError, match="lock_wait_s"):
        open_billing("sqlite://", lock_wait_s=0)


@pytest.mark.parametrize(("error", "words"), [
    (psycopg.errors.DeadlockDetected, "deadlock"),
    (psycopg.errors.SerializationFailure, "serialization"),
    (psycopg.errors.LockNotAvailable, "lock timeout"),
])
def test_postgres_conflicts_are_busy(error: type[psycopg.Error], words: str) -> None:
    wrapped = OperationalError("UPDATE meters …", {}, error("conflict"))
    busy = busy_error(wrapped, "vend", "postgresql://rig@db/billing")
    assert busy is not None and words in str(busy) and "safe to retry" in str(busy)


def test_other_database_errors_stay_what_they_are() -> None:
    disk = sqlite3.OperationalError("disk I/O error")
    disk.sqlite_errorcode = 10  # type: ignore[attr-defined]
    assert busy_error(OperationalError("COMMIT", {}, disk), "vend", "x") is None
    undefined = psycopg.errors.UndefinedTable("no such table")
    assert busy_error(OperationalError("SELECT", {}, undefined), "vend", "x") is None


def test_rest_api_answers_503_with_retry_after_and_remote_raises_busy(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'api.sqlite'}"
    with open_billing(url, lock_wait_s=WAIT_S) as c:
        env = seed(c)
        with serving(c) as base, RemoteBillingCentre(base, env.tokens["cashier"]) as remote:
            body = {"meter_no": METER, "amount": "12.00", "request_id": "api-busy",
                    "station": STATION}
            with held_lock(url):
                reply = httpx.post(f"{base}/vends", json=body, headers=env.auth("cashier"),
                                   timeout=60)
                with pytest.raises(BillingBusy) as busy:
                    remote.vend(METER, AMOUNT, request_id="api-busy", station=STATION,
                                operator="carol")
            assert reply.status_code == 503
            assert reply.headers["Retry-After"] == "1"
            assert reply.json()["error"] == "busy" and "safe to retry" in reply.json()["detail"]
            assert busy.value.database == base and "safe to retry" in str(busy.value)
            assert c.vends_for_meter(METER) == []
            v = remote.vend(METER, AMOUNT, request_id="api-busy", station=STATION,
                            operator="carol")
            assert [x.vend_id for x in c.vends_for_meter(METER)] == [v.vend_id]


def test_cli_prints_busy_and_exits_75(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from rig.cli.main import app

    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    with open_billing(url) as c:
        loadgen.prepare(c, meters=[METER], stations=[STATION])
    with held_lock(url):
        done = CliRunner().invoke(app, [
            "billing", "vend", METER, "12.00", "--station", STATION, "--as",
            loadgen.OPERATOR, "--request-id", "cli-busy", "--db", url],
            env={"COLUMNS": "200", "RIG_BILLING_LOCK_WAIT_S": "0.3"})
    assert done.exit_code == 75, done.output
    assert "is busy" in done.stderr and "safe to retry" in done.stderr
