"""Billing faults: a short kill campaign (SIGKILL at random statements and commits, then
restart) leaves every vend complete or absent, sequences contiguous, each bank payment in
exactly one vend, and the audit chain intact. The 1,000-vend campaign is bench/billing_kill.py."""

from __future__ import annotations

import sqlite3

import pytest

from rig.billing import open_billing
from rig.faults.billing_kill import _check, run_kill_campaign

pytestmark = pytest.mark.filterwarnings("ignore:Dialect sqlite.*Decimal objects natively")


def test_short_kill_campaign(tmp_path) -> None:
    db = tmp_path / "kill.sqlite"
    figures = run_kill_campaign(50, f"sqlite:///{db}", seed=11)
    assert figures["cases"] >= 2  # the worker really was killed, more than once
    assert figures["restarts"] == figures["cases"] + 1
    assert figures["vends"] == 50
    assert {k: figures[k] for k in ("lost", "duplicated", "gaps", "partial",
                                    "bank_double_applied")} == dict.fromkeys(
        ("lost", "duplicated", "gaps", "partial", "bank_double_applied"), 0)
    assert figures["bank_payments"] == 5 and figures["audit_intact"] == 1

    # the checker itself sees a gap and a lost vend when there is one
    con = sqlite3.connect(db)
    con.execute("UPDATE meters SET last_sequence = last_sequence + 1 WHERE id = 1")
    con.commit()
    con.close()
    with open_billing(f"sqlite:///{db}") as centre:
        broken = _check(centre, 51, set())
    assert broken["gaps"] == 1 and broken["lost"] == 1
