"""Reports against a ledger built here: every figure is checked against the vends, sessions,
debts and readbacks the test created, in CSV and in the HTML page."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from rig.billing import open_billing, reports
from tests.billing.ledger import T0, Clock, add_meter, buy, readback

pytestmark = pytest.mark.filterwarnings("ignore:Dialect sqlite.*Decimal objects natively")
A, B, C, D = (f"0000000001{i:02d}" for i in range(4))
DAY1 = datetime(2024, 3, 2, 9, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(DAY1)


@pytest.fixture
def centre(billing_url, clock):
    c = open_billing(billing_url, clock=clock)
    c.create_tariff("RES", Decimal("0.20"), T0)
    for st in ("DESK-1", "DESK-2"):
        c.register_station(st)
    c.register_operator("carol", "cashier")
    c.register_operator("dave", "cashier")
    c.register_operator("sam", "supervisor")
    for no in (A, B, C, D):
        add_meter(c, no, energy_wh=1000)
    yield c
    c.close()


def parse_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def trading(centre, clock):
    """Two days of trading: carol's closed session (a reversal, 0.50 short), dave's open one,
    a supervisor sale outside any session, a free issue and two debts."""
    centre.add_debt(B, Decimal("100.00"), "old bill", recovery_fixed=Decimal("5.00"))
    centre.add_debt(D, Decimal("40.00"), "meter damage", recovery_percent=Decimal("10"))
    s1 = centre.open_session("carol", "DESK-1", Decimal("50.00"))
    buy(centre, A, "10.00", "r1")
    buy(centre, B, "25.50", "r2")
    rev = buy(centre, C, "7.00", "r3")
    centre.reverse_vend(rev.vend_id, operator="sam", reason="card would not write")
    centre.close_session(s1.session_id, operator="carol", counted_cash=Decimal("85.00"))
    clock.now = DAY1 + timedelta(days=1)
    s2 = centre.open_session("dave", "DESK-2", Decimal("20.00"))
    buy(centre, D, "12.34", "r4", station="DESK-2", operator="dave")
    readback(centre, A)
    buy(centre, A, "3.00", "r5", operator="sam")
    readback(centre, B)
    centre.free_issue(B, 500, request_id="r6", station="DESK-1", operator="sam", reason="outage")
    return s1, s2


def test_daily_sales_per_day_and_station(centre, trading) -> None:
    r = reports.daily_sales(centre, date(2024, 3, 2), date(2024, 3, 3))
    rows = {(str(x["day"]), x["station"]): x for x in parse_csv(reports.to_csv(r))}
    assert set(rows) == {("2024-03-02", "DESK-1"), ("2024-03-03", "DESK-1"),
                         ("2024-03-03", "DESK-2"), ("TOTAL", "")}
    day1 = rows[("2024-03-02", "DESK-1")]
    assert (day1["vends"], day1["cash"], day1["total"]) == ("2", "35.50", "35.50")
    sam = rows[("2024-03-03", "DESK-1")]
    assert (sam["vends"], sam["free_issues"], sam["cash"]) == ("1", "1", "3.00")
    assert rows[("2024-03-03", "DESK-2")]["cash"] == "12.34"
    assert rows[("TOTAL", "")]["total"] == "50.84"
    # agrees with the centre's own single-day figure
    assert centre.daily_sales(date(2024, 3, 2)).total_amount == Decimal("35.50")
    assert r.chart is not None and r.chart.series[0][1] == (Decimal("35.50"), Decimal("15.34"))


def test_cash_up_per_session(centre, trading) -> None:
    s1, s2 = trading
    r = reports.cash_up(centre)
    rows = {int(x["session"]): x for x in parse_csv(reports.to_csv(r)) if x["session"] != "TOTAL"}
    one = rows[s1.session_id]
    assert one["status"] == "closed"
    assert (one["cash_vends"], one["cash_sales"]) == ("2", "35.50")
    assert (one["reversed_vends"], one["reversed_amount"]) == ("1", "7.00")
    assert (one["expected_cash"], one["counted_cash"], one["over_short"]) == (
        "85.50", "85.00", "-0.50")
    two = rows[s2.session_id]
    assert (two["status"], two["cash_sales"], two["expected_cash"]) == ("open", "12.34", "32.34")
    assert two["counted_cash"] == "" and two["over_short"] == ""
    # the supervisor's sale had no session and is in no cash-up
    assert sum(Decimal(x["cash_sales"]) for x in rows.values()) == Decimal("47.84")


def test_session_rules(centre) -> None:
    from rig.billing import Conflict, PermissionDenied

    s = centre.open_session("carol", "DESK-1")
    with pytest.raises(Conflict, match="already has session"):
        centre.open_session("carol", "DESK-2")
    with pytest.raises(PermissionDenied):
        centre.close_session(s.session_id, operator="dave", counted_cash=Decimal("0"))
    centre.close_session(s.session_id, operator="sam", counted_cash=Decimal("0.00"))
    with pytest.raises(Conflict, match="already closed"):
        centre.close_session(s.session_id, operator="carol", counted_cash=Decimal("0"))
    v = buy(centre, A, "5.00", "after-close")
    assert v.vend_id and reports.cash_up(centre).rows[0][6] == 0  # not in the closed session


def test_consumption_per_meter_and_month(centre) -> None:
    buy(centre, A, "10.00", "c1")
    for wh, at in ((1500, "2024-03-10"), (2100, "2024-03-25"), (2600, "2024-04-15"),
                   (3000, "2024-06-02")):
        readback(centre, A, energy_wh=wh, at=datetime.fromisoformat(at).replace(tzinfo=UTC))
    readback(centre, B, energy_wh=1250, at=datetime(2024, 4, 30, 23, 59, tzinfo=UTC))
    r = reports.consumption(centre, date(2024, 3, 1), date(2024, 6, 30))
    got = {(x["meter_no"], x["month"]): (x["opening_wh"], x["closing_wh"], x["consumption_wh"],
                                         x["readbacks"]) for x in parse_csv(reports.to_csv(r))}
    assert got.pop(("TOTAL", "")) == ("", "", "2250", "5")
    assert got == {
        (A, "2024-03"): ("1000", "2100", "1100", "2"),
        (A, "2024-04"): ("2100", "2600", "500", "1"),
        (A, "2024-06"): ("2600", "3000", "400", "1"),
        (B, "2024-04"): ("1000", "1250", "250", "1"),
    }
    assert r.chart is not None
    assert r.chart.labels == ("2024-03", "2024-04", "2024-05", "2024-06")
    assert r.chart.series[0][1] == (1100, 750, 0, 400)


def test_arrears_shows_recovery_by_vends(centre, trading) -> None:
    r = reports.arrears(centre)
    rows = {x["meter_no"]: x for x in parse_csv(reports.to_csv(r))}
    assert (rows[B]["principal"], rows[B]["recovered"], rows[B]["outstanding"]) == (
        "100.00", "5.00", "95.00")
    assert (rows[D]["recovered"], rows[D]["outstanding"]) == ("1.23", "38.77")
    assert rows[""]["outstanding"] == "133.77"
    assert r.column("meter_no") == [B, D]  # largest outstanding first


def test_exceptions_list_the_failed_checks(centre) -> None:
    buy(centre, A, "10.00", "e1")
    readback(centre, A, energy_wh=1000, cumulative=1000, remaining=1000)
    assert reports.exceptions(centre).rows == ()
    readback(centre, A, energy_wh=1000, cumulative=900, remaining=1000, seq=1)
    r = reports.exceptions(centre)
    assert len(r.rows) == 1 == len(centre.reconciliation_exceptions())
    row = parse_csv(reports.to_csv(r))[0]
    assert row["meter_no"] == A and "purchase_total" in row["failed_checks"].split()
    assert "expected 1000, got 900" in row["evidence"]


def test_stale_meters(centre, clock) -> None:
    clock.now = datetime(2024, 3, 20, tzinfo=UTC)
    readback(centre, A)
    clock.now = datetime(2024, 4, 25, tzinfo=UTC)
    readback(centre, B)
    r = reports.stale_meters(centre, 30, now=datetime(2024, 5, 1, tzinfo=UTC))
    rows = parse_csv(reports.to_csv(r))
    assert [(x["meter_no"], x["last_readback"], x["days_since"]) for x in rows] == [
        (C, "never", "61"), (D, "never", "61"), (A, "2024-03-20 00:00:00", "42")]
    centre.set_meter_status(C, "blocked")
    assert C not in reports.stale_meters(centre, 30, now=datetime(2024, 5, 1, tzinfo=UTC)
                                         ).column("meter_no")


def test_html_pages_have_table_figures_and_a_chart(centre, trading, tmp_path) -> None:
    for r in (reports.daily_sales(centre, date(2024, 3, 2), date(2024, 3, 3)),
              reports.cash_up(centre), reports.arrears(centre)):
        out = reports.write_html(r, tmp_path / f"{r.name}.html")
        page = out.read_text()
        assert page.startswith("<!doctype html>") and f"<h1>{r.title}</h1>" in page
        assert 'src="data:image/png;base64,iVBORw0KGgo' in page  # a PNG is embedded
        for row in r.rows:
            for cell in row:
                assert reports.render.cell_text(cell) in page
    assert "85.50" in (tmp_path / "cash-up.html").read_text()


def test_html_escapes_names(centre) -> None:
    centre.register_customer("<script>x</script>", "ACC-X")
    centre.create_tariff("RES", Decimal("0.20"), T0)
    centre.register_meter("000000000999", customer_account="ACC-X", profile="p",
                          credit_unit="money_cents", tariff_code="RES", key_revision=1,
                          commissioning_energy_wh=0, commissioned_at=T0)
    page = reports.to_html(reports.stale_meters(centre, 0))
    assert "<script>x" not in page and "&lt;script&gt;x" in page
