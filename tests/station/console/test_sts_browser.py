"""Keypad (STS) meters at the console, in a real browser (headless Chromium via Selenium
against a real uvicorn server): an administrator registers a meter's STS identity — every bad
field named beside it, what was typed kept, nothing registered — then a supervisor makes a
power limit token and a key change set that the emulated keypad meter (the real prepaid
engine) accepts, and rolls a supply group over; a cashier is refused; the audit log holds no
token digits and no key."""

from __future__ import annotations

import json
import os
import shutil
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from rig.billing import BillingCentre, open_billing
from rig.billing.sts_keys import StsKeyService
from rig.profile import load_profile
from rig.sim.prepaid import PrepaidEngine
from rig.sim.sts_keypad import TokenResult, lab_setup
from rig.station.console import create_console_app

from .browser import browser_available, chromium, serve, shot, text
from .conftest import PASSWORDS, STATION
from .test_browser import typed, wait_text

pytestmark = [
    pytest.mark.skipif(not browser_available() and not os.environ.get("CI"),
                       reason="chromium / chromium-driver missing (run ./setup.sh)"),
    pytest.mark.filterwarnings("ignore:.*Decimal.*"),
]

PROFILE = "iec62056-1p-energy"
KEYPAD_METER, OLD_METER = "000010020001", "000010020009"
PAN = "600727000000000009"  # the profile's [sts] identity: its emulated keypad's key


@dataclass
class Desk:
    centre: BillingCentre
    url: str
    driver: WebDriver


@pytest.fixture
def desk(tmp_path: Path, seeded_db: Path) -> Iterator[Desk]:
    db = tmp_path / "console.sqlite"
    shutil.copyfile(seeded_db, db)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Decimal.*")
        centre = open_billing(f"sqlite:///{db}", sts_keys=StsKeyService.public_test_keys())
    for meter_no in (KEYPAD_METER, OLD_METER):
        centre.register_meter(meter_no, customer_account="ACC-1", profile=PROFILE,
                              credit_unit="energy_wh", tariff_code="RES", key_revision=1,
                              commissioning_energy_wh=0,
                              commissioned_at=datetime(2024, 1, 1, tzinfo=UTC))
    app = create_console_app(centre, station=STATION, secure_cookies=False)
    with serve(app) as url, chromium() as driver:
        yield Desk(centre, url, driver)
    centre.close()


def log_in(d: Desk, name: str) -> None:
    d.driver.get(f"{d.url}/login")
    wait_text(d.driver, "Operator name")
    typed(d.driver, name, Keys.TAB, PASSWORDS[name], Keys.ENTER)
    wait_text(d.driver, f"Good day, {name}")


def fill(driver: WebDriver, values: dict[str, str]) -> None:
    for name, value in values.items():
        box = driver.find_element(By.ID, f"sts-{name}")
        if box.tag_name == "select":
            Select(box).select_by_value(value)
        else:
            box.clear()
            box.send_keys(value)


def issued(driver: WebDriver) -> list[str]:
    """The tokens the page shows, as typed on a keypad (groups of 4 → 20 digits)."""
    wait_text(driver, "STS tokens to type")
    cells = driver.find_elements(By.CSS_SELECTOR, "#issued td.token")
    return [c.text.replace(" ", "") for c in cells]


def test_register_then_management_and_key_change_tokens_the_meter_accepts(desk: Desk) -> None:
    d = desk.driver
    log_in(desk, "ada")
    d.get(f"{desk.url}/supervisor/sts")
    wait_text(d, "Register a keypad meter's STS identity")
    # four bad fields: each named beside its box, the others and the typed values kept
    fill(d, {"meter_no": KEYPAD_METER, "pan": PAN[:-1] + "8", "supply_group": "12345",
             "key_revision": "0", "currency_step": "one cent"})
    d.find_element(By.ID, "register-sts").click()
    wait_text(d, "field(s) to correct")
    shot(d, "STS identity with four bad fields")
    assert "Luhn check digit" in d.find_element(By.ID, "error-pan").text
    assert "supply group code is 6 decimal digits" in d.find_element(
        By.ID, "error-supply_group").text
    assert d.find_element(By.ID, "error-key_revision").text
    assert d.find_element(By.ID, "error-currency_step").text
    assert not d.find_elements(By.ID, "error-tariff_index")
    assert d.find_element(By.ID, "sts-pan").get_attribute("value") == PAN[:-1] + "8"
    assert d.find_element(By.ID, "sts-pan").get_attribute("aria-invalid") == "true"
    assert desk.centre.sts_identity(KEYPAD_METER) is None  # nothing registered
    fill(d, {"pan": PAN, "supply_group": "123456", "key_revision": "1", "base_date": "2014",
             "currency_step": "0.00001"})
    d.find_element(By.ID, "register-sts").click()
    wait_text(d, "registered as a keypad meter")
    assert f"PAN {PAN}" in d.find_element(By.ID, "identity").text
    ident = desk.centre.sts_identity(KEYPAD_METER)
    assert ident is not None and (ident.pan, ident.base_date) == (PAN, 2014)
    desk.centre.register_sts_meter(OLD_METER, {"pan": "000001000000000082",
                                               "supply_group": "654321", "base_date": 1993})
    d.find_element(By.ID, "logout").click()
    wait_text(d, "You have logged out")

    log_in(desk, "sam")
    d.get(f"{desk.url}/supervisor")
    d.find_element(By.ID, "sts-desk").click()
    wait_text(d, "Management token")
    assert "An administrator registers" in d.find_element(By.ID, "register-who").text
    d.find_element(By.ID, "token-meter").send_keys(KEYPAD_METER)
    Select(d.find_element(By.ID, "kind")).select_by_value("power_limit")
    d.find_element(By.ID, "watts").send_keys("1000", Keys.ENTER)
    [limit] = issued(d)
    shot(d, "power limit token")
    d.get(f"{desk.url}/supervisor/sts?meter_no={KEYPAD_METER}")
    wait_text(d, "Decoder key change")
    d.find_element(By.ID, "kc-krn").send_keys("2")
    d.find_element(By.ID, "key-change").click()
    change = issued(d)
    assert len(change) == 2
    # the emulated keypad meter of the profile (the same public test keys) takes them
    engine = PrepaidEngine(load_profile(PROFILE))
    setup = lab_setup(load_profile(PROFILE))
    assert setup is not None
    keypad = setup.keypad_for(engine)
    now = datetime.now(UTC)
    assert keypad.enter(limit, now).result is TokenResult.ACCEPT
    assert engine.profile.power_limit is not None
    assert engine.profile.power_limit.max_power_w == 1000
    assert keypad.enter(change[0], now).result is TokenResult.KCT_1
    assert keypad.enter(change[1], now).result is TokenResult.ACCEPT
    assert keypad.key_revision == 2

    # a power limit the token cannot carry is refused in one line, nothing issued
    d.get(f"{desk.url}/supervisor/sts")
    d.find_element(By.ID, "token-meter").send_keys(KEYPAD_METER)
    d.find_element(By.ID, "watts").send_keys("16385", Keys.ENTER)
    wait_text(d, "a token carries 16384 W or 16394 W")
    d.find_element(By.ID, "ro-sgc").send_keys("654321")
    d.find_element(By.ID, "rollover").click()
    assert len(issued(d)) == 2  # the 1993 meter's roll-over set
    assert desk.centre.sts_identity(OLD_METER).base_date == 2014  # type: ignore[union-attr]
    d.get(f"{desk.url}/supervisor/sts")
    d.find_element(By.ID, "ro-sgc").send_keys("654321", Keys.ENTER)
    wait_text(d, "on the newest base date already")

    # the audit log: every action, no digits, no key
    shown = [limit, *change]
    events = [e for e in desk.centre.audit_log() if e.action.startswith(("sts.", "meter.sts"))]
    assert {"meter.sts_register", "sts.power_limit", "sts.key_change"} <= {
        e.action for e in events}
    dump = json.dumps([[e.action, e.before, e.after] for e in events], default=str)
    key = StsKeyService.public_test_keys().decoder_key(ident)
    for secret in (*shown, key.hex(), key.hex().upper(), "abababababababab"):
        assert secret not in dump
    assert desk.centre.verify_audit_chain().ok


def test_a_cashier_may_not_open_the_sts_desk(desk: Desk) -> None:
    d = desk.driver
    log_in(desk, "carol")
    assert "Supervisor" not in d.find_element(By.TAG_NAME, "nav").text
    d.get(f"{desk.url}/supervisor/sts")
    wait_text(d, "Only")
    assert "issue STS tokens" in text(d)
