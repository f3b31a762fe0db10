"""`rig billing` acts as a named operator who proves it (password, token) or is recorded as not
having proved it (``--as``), and a terminal sale belongs to a cashier session that the cash-up
report counts — a counter's session, or the operator's back-office session."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rig.billing import open_billing
from rig.cli.main import app

METER = "000000000321"
PASSWORD = "carol-secret-9"


def rig(db: str, *args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["billing", *args, "--db", db],
                              env={"COLUMNS": "200", "RIG_BILLING_PASSWORD": None,
                                   "RIG_BILLING_TOKEN": None, "RIG_BILLING_OPERATOR": None,
                                   **(env or {})})


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'acting.sqlite'}"
    admin = ("--as", "ann")
    for args in (("operators", "add", "ann", "administrator"),
                 ("operators", "add", "carol", "cashier", *admin),
                 ("operators", "station", "DESK-1", *admin),
                 ("customers", "add", "Ada", "ACC-1", *admin),
                 ("tariffs", "add", "RES", "--price", "0.1500", *admin),
                 ("meters", "add", METER, "--customer", "ACC-1", "--tariff", "RES",
                  "--profile", "dlt645-1p-money", *admin),
                 ("cards", "issue", METER, "0123456789ABCDEF", *admin)):
        done = rig(url, *args)
        assert done.exit_code == 0, (args, done.output)
    done = CliRunner().invoke(app, ["billing", "operators", "password", "carol", "--as", "ann",
                                    "--db", url], input=f"{PASSWORD}\n")
    assert done.exit_code == 0, done.output
    return url


def audit(db: str) -> list[tuple[str, str]]:
    with open_billing(db) as c:
        return [(e.actor, e.action) for e in c.audit_log()]


def test_nothing_changes_without_an_operator_once_the_centre_has_one(db: str) -> None:
    before = audit(db)
    done = rig(db, "customers", "add", "Bob", "ACC-2")
    assert done.exit_code == 2, done.output
    assert "registering a customer needs an operator: --operator NAME" in done.stderr
    assert audit(db) == before
    assert ("system", "operator.register") in before  # the first one: by set-up
    assert ("ann", "customer.register") in before and ("system", "meter.register") not in before


def test_the_first_operator_of_a_new_centre_must_be_an_administrator(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.sqlite'}"
    done = rig(url, "operators", "add", "carol", "cashier")
    assert done.exit_code == 2 and "must be an administrator" in done.stderr


def test_a_password_authenticates_and_a_wrong_one_is_refused(db: str) -> None:
    wrong = rig(db, "session", "open", "--station", "DESK-1", "-o", "carol",
                env={"RIG_BILLING_PASSWORD": "guess"})
    assert wrong.exit_code == 3 and "'carol': wrong password" in wrong.stderr
    assert audit(db)[-1] == ("carol", "operator.login_failed")
    blind = rig(db, "session", "open", "--station", "DESK-1", "-o", "carol")
    assert blind.exit_code == 2  # no terminal to ask on, no $RIG_BILLING_PASSWORD
    assert "must authenticate" in blind.stderr and "--as carol" in blind.stderr
    ok = rig(db, "session", "open", "--station", "DESK-1", "--float", "20.00", "-o", "carol",
             env={"RIG_BILLING_PASSWORD": PASSWORD})
    assert ok.exit_code == 0, ok.output
    assert audit(db)[-2:] == [("carol", "operator.login"), ("carol", "session.open")]


def test_as_is_recorded_as_unauthenticated_with_the_command(db: str) -> None:
    done = rig(db, "operators", "station", "DESK-2", "--as", "ann")
    assert done.exit_code == 0 and "without authentication" in done.stderr
    with open_billing(db) as c:
        note, registered = c.audit_log()[-2:]
    assert (note.actor, note.action) == ("ann", "operator.unauthenticated")
    assert note.after is not None and note.after["authenticated"] is False
    assert note.after["command"] == "rig billing --as ann: registering a station"
    assert (registered.actor, registered.action) == ("ann", "station.register")
    unknown = rig(db, "operators", "station", "DESK-3", "--as", "mallory")
    assert unknown.exit_code == 3 and "'mallory' is not registered" in unknown.stderr


def test_a_role_the_command_needs_is_checked(db: str) -> None:
    done = rig(db, "meters", "status", METER, "blocked", "--as", "carol")
    assert done.exit_code == 3
    assert "'carol' is a cashier; blocking or unblocking a meter needs an administrator" in \
        done.stderr


def test_a_terminal_sale_needs_a_session_and_counts_in_its_cash_up(
        db: str, tmp_path: Path) -> None:
    env = {"RIG_BILLING_PASSWORD": PASSWORD}
    loose = rig(db, "vend", METER, "10.00", "-o", "carol", env=env)
    assert loose.exit_code == 3 and "no open cashier session" in loose.stderr
    assert "rig billing session open --station" in loose.stderr
    assert rig(db, "session", "open", "--station", "DESK-1", "--float", "20.00", "-o", "carol",
               env=env).exit_code == 0
    sold = rig(db, "vend", METER, "10.00", "-o", "carol", env=env)
    assert sold.exit_code == 0, sold.output
    assert "station   DESK-1  operator carol" in sold.stdout
    elsewhere = rig(db, "vend", METER, "1.00", "--station", "DESK-2", "-o", "carol", env=env)
    assert elsewhere.exit_code == 3 and "is at DESK-1, not DESK-2" in elsewhere.stderr
    closed = rig(db, "session", "close", "1", "--counted", "30.00", "-o", "carol", env=env)
    assert closed.exit_code == 0, closed.output
    out = tmp_path / "cashup.csv"
    assert rig(db, "report", "cash-up", "--csv", str(out)).exit_code == 0
    rows = [r for r in csv.DictReader(out.open()) if r["session"] != "TOTAL"]
    assert [(r["operator"], r["station"], r["cash_sales"], r["over_short"]) for r in rows] == [
        ("carol", "DESK-1", "10.00", "0.00")]


def test_back_office_sales_have_their_own_session_in_the_cash_up(
        db: str, tmp_path: Path) -> None:
    first = rig(db, "vend", METER, "12.50", "--back-office", "--as", "ann")
    assert first.exit_code == 0, first.output
    assert "opened for ann at BACK-OFFICE" in first.stdout
    assert "station   BACK-OFFICE  operator ann" in first.stdout
    out = tmp_path / "cashup.csv"
    assert rig(db, "report", "cash-up", "--csv", str(out)).exit_code == 0
    rows = [r for r in csv.DictReader(out.open()) if r["session"] != "TOTAL"]
    assert [(r["operator"], r["station"], r["status"], r["cash_sales"]) for r in rows] == [
        ("ann", "BACK-OFFICE", "open", "12.50")]


def test_a_token_acts_for_its_operator_at_its_stations_only(db: str) -> None:
    made = rig(db, "token", "create", "carol", "--station", "DESK-1", "--as", "ann")
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip().splitlines()[-1]
    env = {"RIG_BILLING_TOKEN": secret}
    refused = rig(db, "session", "open", "--station", "DESK-2", env=env)
    assert refused.exit_code == 3 and "may sell only at DESK-1" in refused.stderr
    assert rig(db, "session", "open", "--station", "DESK-1", env=env).exit_code == 0
    sold = rig(db, "vend", METER, "5.00", env=env)
    assert sold.exit_code == 0, sold.output
    assert audit(db)[-1] == ("carol", "vend.create")
    bogus = rig(db, "vend", METER, "5.00", "--token", "rig_not-a-token")
    assert bogus.exit_code == 3 and "unknown, revoked or expired" in bogus.stderr
