"""Billing faults: short kill campaigns (SIGKILL at random statements and commits, then
restart) — one vending process, and several stations vending for the same meters at once on
SQLite and PostgreSQL — leave every vend complete or absent, every answer a station got equal
to the ledger, sequences contiguous, each bank payment in exactly one vend, and the audit chain
intact. The 1,000-vend campaigns are bench/billing_kill.py."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from rig.billing import open_billing
from rig.billing.bank import import_statement, payments
from rig.faults.billing_kill import _check, run_kill_campaign
from rig.station import loadgen

pytestmark = pytest.mark.filterwarnings("ignore:Dialect sqlite.*Decimal objects natively")
BAD = ("lost", "duplicated", "ack_mismatch", "gaps", "partial", "bank_double_applied")


def test_short_kill_campaign(tmp_path) -> None:
    db = tmp_path / "kill.sqlite"
    figures = run_kill_campaign(50, f"sqlite:///{db}", seed=11)
    assert figures["cases"] >= 2  # the worker really was killed, more than once
    assert figures["restarts"] == figures["cases"] + 1
    assert figures["vends"] == 50
    assert {k: figures[k] for k in BAD} == dict.fromkeys(BAD, 0)
    assert figures["bank_payments"] == 5 and figures["audit_intact"] == 1

    # the checker itself sees a gap, a lost vend and an answer the ledger does not hold
    con = sqlite3.connect(db)
    con.execute("UPDATE meters SET last_sequence = last_sequence + 1 WHERE id = 1")
    con.commit()
    vend_id, sequence = con.execute("SELECT id, sequence FROM vends "
                                    "WHERE request_id = 'K-3'").fetchone()
    con.close()
    with open_billing(f"sqlite:///{db}") as centre:
        broken = _check(centre, 51, {3: {(vend_id, sequence), (vend_id, sequence + 1)}})
    assert broken["gaps"] == 1 and broken["lost"] == 1 and broken["ack_mismatch"] == 1


def test_concurrent_stations_under_kills(billing_url) -> None:
    figures = run_kill_campaign(60, billing_url, seed=5, stations=3, kill_every=400)
    assert figures["stations_killed"] == 3  # every station was killed at least once
    assert figures["restarts"] == figures["cases"] + 3
    assert figures["vends"] == 60
    assert {k: figures[k] for k in BAD} == dict.fromkeys(BAD, 0)
    assert figures["bank_payments"] == 6 and figures["audit_intact"] == 1
    with open_billing(billing_url) as centre:  # the two meters really were shared
        for no in loadgen.meter_numbers(2):
            assert len({v.station for v in centre.vends_for_meter(no)}) == 3


def test_station_retrying_a_cash_presentation_gets_its_sale_back(billing_url,
                                                                  tmp_path: Path) -> None:
    """Found by the concurrent campaign: a presentation tries the bank payments, then sells
    for cash under the same request id; a station restarted after that sale retried it and
    the bank try refused the id as used for another vend."""
    no = loadgen.meter_numbers(1)[0]
    with open_billing(billing_url) as centre:
        loadgen.prepare(centre, meters=[no], stations=["S1"])
        sale = loadgen.present(centre, no, request_id="R-1", amount=Decimal("5.00"),
                               station="S1")
        assert sale is not None and sale.tender == "cash"
        statement = tmp_path / "pay.csv"
        statement.write_text("entry_ref,booking_date,amount,currency,reference\n"
                             f"PAY-1,2024-01-02,7.00,EUR,{no}\n")
        import_statement(centre, statement)
        again = loadgen.present(centre, no, request_id="R-1", amount=Decimal("5.00"),
                                station="S1")
        assert again == sale
        assert [p.status for p in payments(centre)] == ["pending"]  # left for the next sale
        assert len(centre.vends_for_meter(no)) == 1
