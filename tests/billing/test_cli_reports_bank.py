"""The `report` and `bank` typer sub-apps, driven with CliRunner against a real SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rig.billing import open_billing
from rig.billing.currency import set_centre_currency
from rig.cli.billing_bank import bank_app
from rig.cli.billing_report import report_app
from tests.billing.ledger import T0, Clock, add_meter, buy

pytestmark = pytest.mark.filterwarnings("ignore:Dialect sqlite.*Decimal objects natively")
FIX = Path(__file__).parents[2] / "fixtures" / "bank"
runner = CliRunner(env={"COLUMNS": "200"})  # rich tables unwrapped


@pytest.fixture
def db(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'billing.sqlite'}"
    with open_billing(url, clock=Clock(datetime(2024, 3, 2, 9, tzinfo=UTC))) as c:
        set_centre_currency(c, "EUR")
        c.create_tariff("RES", Decimal("0.20"), T0)
        c.register_station("DESK-1")
        c.register_operator("carol", "cashier")
        add_meter(c, "000000000200", account="ACC-200")
        add_meter(c, "000000000202", account="ACC-202")
        s = c.open_session("carol", "DESK-1", Decimal("10.00"))
        buy(c, "000000000200", "12.30", "a")
        buy(c, "000000000202", "7.70", "b")
        c.close_session(s.session_id, operator="carol", counted_cash=Decimal("30.00"))
    return url


def test_daily_sales_to_csv_html_and_stdout(db, tmp_path) -> None:
    csv, html = tmp_path / "s.csv", tmp_path / "s.html"
    r = runner.invoke(report_app, ["daily-sales", "--from", "2024-03-02", "--db", db,
                                   "--csv", str(csv), "--html", str(html)])
    assert r.exit_code == 0, r.output
    assert "2024-03-02,DESK-1,2,0,20.00,0.00,20.00" in csv.read_text()
    assert "data:image/png;base64," in html.read_text()
    r = runner.invoke(report_app, ["cash-up", "--db", db])
    assert r.exit_code == 0 and ",10.00,30.00,30.00,0.00" in r.output  # float, expected, counted


def test_every_report_command_runs(db, tmp_path) -> None:
    for args in (["consumption", "--from", "2024-01", "--to", "2024-03"], ["arrears"],
                 ["exceptions"], ["stale", "--days", "0"]):
        out = tmp_path / f"{args[0]}.html"
        r = runner.invoke(report_app, [*args, "--db", db, "--html", str(out)])
        assert r.exit_code == 0, r.output
        assert out.read_text().startswith("<!doctype html>")


def test_bad_date_exits_2_with_the_reason(db) -> None:
    r = runner.invoke(report_app, ["daily-sales", "--from", "03/02/2024", "--db", db])
    assert r.exit_code == 2 and "--from '03/02/2024' is not a date" in r.output


def test_bank_import_twice_and_malformed(db) -> None:
    r = runner.invoke(bank_app, ["import", str(FIX / "camt053_v02.xml"), "--db", db])
    assert r.exit_code == 0, r.output
    assert "2 pending, 4 unmatched" in r.output and "BANK-REF-0003" in r.output
    r = runner.invoke(bank_app, ["import", str(FIX / "camt053_v02.xml"), "--db", db])
    assert r.exit_code == 0 and "already imported; nothing changed" in r.output
    r = runner.invoke(bank_app, ["import", str(FIX / "camt053_bad_amount.xml"), "--db", db])
    assert r.exit_code == 2 and "camt053_bad_amount.xml:41" in r.output
    r = runner.invoke(bank_app, ["payments", "--status", "pending", "--db", db])
    assert r.exit_code == 0 and "BANK-REF-0001" in r.output and "BANK-REF-0003" not in r.output
    with open_billing(db) as c:
        c.register_operator("sam", "supervisor")
    r = runner.invoke(bank_app, ["assign", "BANK-REF-0003", "000000000202", "--as", "sam",
                                 "--note", "invoice 7781 is ACC-202's", "--db", db])
    assert r.exit_code == 0 and "9.99 EUR pending for meter 000000000202" in r.output


def test_mandate_and_export_debits(db, tmp_path) -> None:
    r = runner.invoke(bank_app, ["mandate", "ACC-200", "--ref", "M-200", "--iban",
                                 "DE89370400440532013000", "--amount", "25.00",
                                 "--signed-on", "2024-01-02", "--db", db])
    assert r.exit_code == 0, r.output
    out = tmp_path / "dd.xml"
    r = runner.invoke(bank_app, ["export-debits", str(out), "--collection-date", "2024-03-10",
                                 "--creditor-name", "Utility", "--creditor-iban",
                                 "GB82WEST12345698765432", "--creditor-bic", "WESTGB2L",
                                 "--creditor-id", "GB98ZZZ123", "--db", db])
    assert r.exit_code == 0, r.output
    assert "1 collection(s), control sum 25.00 EUR" in r.output
    assert "<MndtId>M-200</MndtId>" in out.read_text()
    r = runner.invoke(bank_app, ["mandate", "ACC-202", "--ref", "M-202", "--iban",
                                 "DE00370400440532013000", "--amount", "5.00",
                                 "--signed-on", "2024-01-02", "--db", db])
    assert r.exit_code == 2 and "fails its check digits" in r.output
