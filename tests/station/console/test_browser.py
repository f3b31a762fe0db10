"""The console in a real browser: headless Chromium (Debian's package, via Selenium and the
system chromedriver) against a real uvicorn server, and a real emulated bench whose virtual
card sits in a vpcd PC/SC reader. Everything is done with the keyboard where a cashier would.

Scenario 1 — a cashier's shift: log in, open the session, find the customer, sell with the
receipt preview, write the card (first with the card out of the reader: "retry"), print, take
the card to the meter and back, upload the readback (balanced), close the session (cash-up).
Scenario 2 — supervision: a cashier who opens a supervisor page is refused; the supervisor
reverses the cashier's unwritten sale and views the reports and the audit trail.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from rig.billing import BillingCentre, VendStatus, open_billing
from rig.profile import CreditKind, MeterProfile
from rig.sim.emulated_bench import EmulatedBench, lab_master_key
from rig.station.console import PcscCardWriter, create_console_app

from .browser import browser_available, chromium, fetch, serve, shot, text
from .conftest import PASSWORDS, STATION, seed

pytestmark = [
    # Under CI the browser is part of the set-up: a missing one fails instead of skipping.
    pytest.mark.skipif(not browser_available() and not os.environ.get("CI"),
                       reason="chromium / chromium-driver missing (run ./setup.sh)"),
    pytest.mark.filterwarnings("ignore:.*Decimal.*"),
]

OTHER_METER, OTHER_CARD = "000000000099", "CARD-99"


@dataclass
class Rig:
    bench: EmulatedBench
    centre: BillingCentre
    url: str
    driver: WebDriver
    meter_no: str
    card: str


@pytest.fixture(scope="module")
def rig(meter_profile: MeterProfile, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    db = tmp_path_factory.mktemp("console-browser") / "billing.sqlite"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Decimal.*")
        centre = open_billing(f"sqlite:///{db}")
    unit = "money_cents" if meter_profile.credit.unit is CreditKind.MONEY else "energy_wh"
    with EmulatedBench(meter_profile) as bench:
        meter_no, card = bench.meter.meter_no, uuid.uuid4().hex[:16].upper()
        seed(centre, meter_no=meter_no, card=card, unit=unit,
             commissioning_wh=bench.meter.engine.energy_wh, profile=meter_profile.name)
        centre.register_customer("Alan Turing", "ACC-2")
        centre.register_meter(OTHER_METER, customer_account="ACC-2", profile="p",
                              credit_unit="money_cents", tariff_code="RES", key_revision=1,
                              commissioning_energy_wh=0,
                              commissioned_at=datetime(2024, 1, 1, tzinfo=UTC))
        centre.issue_card(OTHER_METER, OTHER_CARD)
        assert bench.parts is not None
        writer = PcscCardWriter(centre, lab_master_key(), bench.parts.card_reader)
        writer.personalise(card, meter_no, meter_profile.card.key_revision)  # card issuing
        app = create_console_app(centre, station=STATION, writer=writer, secure_cookies=False)
        with serve(app) as url, chromium() as driver:
            yield Rig(bench, centre, url, driver, meter_no, card)
    centre.close()


def wait_text(driver: WebDriver, words: str) -> None:
    """Wait until the page shows ``words`` (the page after a navigation has loaded). A look
    that lands mid-navigation is simply repeated: on a loaded machine Chromium then answers
    "Node with given id does not belong to the document" instead of a stale element."""
    try:
        WebDriverWait(driver, 30, ignored_exceptions=(WebDriverException,)).until(
            ec.text_to_be_present_in_element((By.TAG_NAME, "body"), words))
    except TimeoutException:
        raise AssertionError(f"the page never showed {words!r}; it shows:\n{text(driver)}"
                             ) from None


def typed(driver: WebDriver, *keys: str) -> None:
    """Type into whatever has the keyboard focus, as a cashier does — once the page's
    autofocus has landed (Chromium applies it in a rendering step after the load event)."""
    try:
        WebDriverWait(driver, 30).until(
            lambda d: d.switch_to.active_element.tag_name.lower() != "body")
    except TimeoutException:
        raise AssertionError(f"nothing has the keyboard focus on:\n{text(driver)}") from None
    driver.switch_to.active_element.send_keys(*keys)


def log_in(r: Rig, name: str) -> None:
    r.driver.get(f"{r.url}/login")
    wait_text(r.driver, "Operator name")
    typed(r.driver, name, Keys.TAB, PASSWORDS[name], Keys.ENTER)
    wait_text(r.driver, f"Good day, {name}")


def log_out(r: Rig) -> None:
    r.driver.find_element(By.ID, "logout").click()
    wait_text(r.driver, "You have logged out")


def test_cashier_shift_sell_write_print_readback_cash_up(rig: Rig) -> None:
    d = rig.driver
    d.get(rig.url)
    wait_text(d, "Operator name")
    shot(d, "login")
    log_in(rig, "carol")
    shot(d, "home (no session)")

    d.get(f"{rig.url}/session")
    wait_text(d, "Opening float")
    typed(d, Keys.CONTROL, "a", Keys.NULL, "50.00", Keys.ENTER)  # replaces the 0.00
    wait_text(d, "opened at DESK-1 with a float of 50.00")

    typed(d, "Grace", Keys.ENTER)  # the search box has the focus on the home page
    wait_text(d, "1 Harbour Road")
    shot(d, "search")
    d.find_element(By.LINK_TEXT, rig.meter_no).send_keys(Keys.ENTER)
    wait_text(d, "Sell credit")
    shot(d, "meter")

    typed(d, "20.00", Keys.ENTER)
    wait_text(d, "Receipt preview")
    page = text(d)
    for component in ("fixed monthly charge", "VAT 15%", "Paid 20.00"):
        assert component in page
    shot(d, "receipt preview")
    assert rig.centre.vends_for_meter(rig.meter_no) == []  # nothing sold before confirming

    typed(d, Keys.ENTER)  # "Take 20.00 and sell" has the focus
    wait_text(d, "Now write the card")
    [vend] = rig.centre.vends_for_meter(rig.meter_no)
    assert vend.amount == Decimal("20.00") and vend.status is VendStatus.CREATED

    rig.bench.move_card("hand")  # the customer still holds the card
    typed(d, Keys.ENTER)  # "Write card" has the focus
    wait_text(d, "No card in the reader")
    assert "retry" in text(d) and "to be written" in text(d)
    shot(d, "write refused: no card")
    assert rig.centre.vend_by_id(vend.vend_id).status is VendStatus.CREATED

    rig.bench.move_card("writer")
    d.find_element(By.ID, "write").send_keys(Keys.ENTER)
    wait_text(d, "Hand the card to the customer")
    assert rig.centre.vend_by_id(vend.vend_id).status is VendStatus.WRITTEN
    shot(d, "card written")

    pdf = fetch(d, d.find_element(By.ID, "print").get_attribute("href"))
    assert (pdf["status"], pdf["type"], pdf["head"]) == (200, "application/pdf", "%PDF-1.4")
    assert "PREPAID ENERGY RECEIPT" in str(pdf["body"])

    outcome = rig.bench.move_card("meter")  # the customer loads the credit at home
    assert outcome is not None
    rig.bench.move_card("writer")  # and brings the card back
    d.get(f"{rig.url}/meters/{rig.meter_no}")
    wait_text(d, "Card back from the meter")
    d.find_element(By.ID, "readback").send_keys(Keys.ENTER)
    wait_text(d, "Readback uploaded")
    assert d.find_element(By.ID, "verdict").text == "balanced"
    shot(d, "readback reconciled")
    assert rig.centre.vend_by_id(vend.vend_id).status is VendStatus.CONFIRMED

    d.get(f"{rig.url}/session")
    wait_text(d, "Cash counted in the drawer")
    assert d.find_element(By.ID, "expected").text == "70.00"
    typed(d, "70.00", Keys.ENTER)
    wait_text(d, "Cash-up of session")
    assert d.find_element(By.ID, "over-short").text == "0.00"
    assert "The drawer matches" in text(d)
    shot(d, "cash-up")
    log_out(rig)


def test_cashier_refused_supervisor_reverses_and_reads_reports(rig: Rig) -> None:
    d = rig.driver
    log_in(rig, "carol")
    d.get(f"{rig.url}/session")
    wait_text(d, "Opening float")
    typed(d, Keys.ENTER)
    wait_text(d, "opened at DESK-1")
    d.get(f"{rig.url}/meters/{OTHER_METER}")
    wait_text(d, "Sell credit")
    typed(d, "10", Keys.ENTER)
    wait_text(d, "Receipt preview")
    typed(d, Keys.ENTER)
    wait_text(d, "Now write the card")
    [vend] = rig.centre.vends_for_meter(OTHER_METER)

    d.get(f"{rig.url}/supervisor")
    wait_text(d, "Not allowed")
    assert "Only an administrator or a supervisor may do supervisor work" in text(d)
    assert "Supervisor" not in d.find_element(By.TAG_NAME, "nav").text
    shot(d, "cashier refused")
    log_out(rig)

    log_in(rig, "sam")
    d.get(f"{rig.url}/supervisor")
    wait_text(d, "Unconfirmed sales")
    shot(d, "supervisor")
    d.find_element(By.ID, f"reason-{vend.vend_id}").send_keys("customer left", Keys.ENTER)
    wait_text(d, "hand back 10.00")
    assert rig.centre.vend_by_id(vend.vend_id).status is VendStatus.REVERSED
    shot(d, "reversed")

    # A sale that stands (the report must not lean on another test's sales).
    rig.centre.vend(OTHER_METER, Decimal("20.00"), request_id="browser-report-sale",
                    station=STATION, operator="carol")
    d.get(f"{rig.url}/reports")
    wait_text(d, "Daily sales")
    report = d.find_element(By.ID, "report").text
    standing = [v for no in (rig.meter_no, OTHER_METER) for v in rig.centre.vends_for_meter(no)
                if v.status is not VendStatus.REVERSED]
    sold = sum((v.amount for v in standing), Decimal(0))
    assert f"TOTAL {len(standing)} 0 {sold:.2f}" in report
    assert "10.00" not in report  # the reversal is not a sale
    assert d.find_elements(By.CSS_SELECTOR, "img[alt='Sales per day']")
    shot(d, "reports: daily sales")
    csv = fetch(d, d.find_element(By.ID, "csv").get_attribute("href"))
    assert csv["status"] == 200 and str(csv["body"]).startswith("day,station,vends")

    d.get(f"{rig.url}/audit?action=vend.reverse")
    wait_text(d, "Chain verified")
    assert "vend.reverse" in d.find_element(By.ID, "audit").text
    shot(d, "audit")
    log_out(rig)
