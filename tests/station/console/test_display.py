"""What a person at the counter reads: money in the centre's currency with its symbol, credit in
money or kWh (never "cents"), readable receipt labels, and times in the station's zone."""

from __future__ import annotations

from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from rig.billing import BillingCentre
from rig.billing.currency import set_centre_currency
from rig.station.console import create_console_app

from .conftest import METER, STATION, login, open_shift
from .test_routes import sell


@pytest.fixture
def shanghai(centre: BillingCentre) -> TestClient:
    set_centre_currency(centre, "CNY")
    centre.set_hoarding_limit(METER, 999_999, actor="ada")
    app = create_console_app(centre, station=STATION, secure_cookies=False,
                             time_zone="Asia/Shanghai")
    return TestClient(app, base_url="http://127.0.0.1")


def test_money_credit_and_labels_read_as_a_customer_reads_them(
        shanghai: TestClient, centre: BillingCentre) -> None:
    csrf = login(shanghai, "carol")
    open_shift(shanghai, csrf)
    preview = shanghai.post("/vend/preview", data={"csrf": csrf, "meter_no": METER,
                                                   "amount": "20"}).text
    assert "CN¥15.65" in preview and "Credit for the card: CN¥15.65" in preview
    assert "Fixed monthly charge" in preview and "<td>fixed</td>" not in preview
    assert "cents" not in preview
    page = sell(shanghai, csrf, "20")
    assert "CN¥15.65 to write" in page
    meter = shanghai.get(f"/meters/{METER}").text
    assert "Hoarding limit CN¥9,999.99" in meter and "cents" not in meter


def test_times_are_shown_in_the_station_zone_and_stored_in_utc(
        shanghai: TestClient, centre: BillingCentre) -> None:
    csrf = login(shanghai, "carol")
    open_shift(shanghai, csrf)
    sell(shanghai, csrf)
    [vend] = centre.vends_for_meter(METER)
    assert vend.created_at.utcoffset() is not None and not vend.created_at.utcoffset()
    page = shanghai.get(f"/vends/{vend.vend_id}").text
    shown = vend.created_at.astimezone(ZoneInfo("Asia/Shanghai"))
    assert f"{shown:%Y-%m-%d %H:%M:%S} CST" in page
    assert " UTC" not in page and "(UTC)" not in page


def test_a_zone_that_does_not_exist_is_refused_by_name(centre: BillingCentre) -> None:
    from rig.billing.display import DisplaySettingError

    with pytest.raises(DisplaySettingError, match="'Mars/Olympus' is not an IANA time zone"):
        create_console_app(centre, station=STATION, time_zone="Mars/Olympus")


def test_receipt_reprint_and_pdf_print_the_same_amount_the_same_way(
        centre: BillingCentre) -> None:
    from rig.billing.display import Display
    from rig.billing.receipt_pdf import receipt_lines
    from rig.billing.receipts import receipt_text

    set_centre_currency(centre, "CNY")
    centre.open_session("carol", STATION)
    vend = centre.vend(METER, Decimal("15.5"), request_id="r-15.5", station=STATION,
                       operator="carol")
    display = Display("CNY")
    first = receipt_text(vend, display)
    again = centre.reprint(vend.vend_id, operator="carol", display=display)
    pdf = [text for text, _ in receipt_lines(vend, display)]
    paid = [line for line in first.splitlines() if line.startswith("PAID")]
    assert paid == [line for line in again.splitlines() if line.startswith("PAID")]
    assert paid == [line for line in pdf if line.startswith("PAID")]
    assert paid[0].endswith(" CN¥15.50")
    assert "*** REPRINT 1 ***" in again and "REPRINT" not in first
    assert [row for row in again.splitlines() if "REPRINT" not in row] == first.splitlines()


def test_the_reprint_uses_the_centre_currency_without_being_told(
        centre: BillingCentre, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIG_TIME_ZONE", "Europe/Berlin")
    set_centre_currency(centre, "EUR")
    centre.open_session("carol", STATION)
    vend = centre.vend(METER, Decimal("7"), request_id="r-7", station=STATION,
                       operator="carol")
    text = centre.reprint(vend.vend_id, operator="carol")
    assert any(line.startswith("PAID") and line.endswith(" €7.00") for line in text.splitlines())
    assert " CET" in text or " CEST" in text

