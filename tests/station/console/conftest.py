"""A seeded billing centre and console app for the console tests.

Operators: carol (cashier), sam (supervisor), ada (administrator), all with the password in
``PASSWORDS``; station DESK-1; customer Grace Hopper with money meter 000000000042 on a tariff
with VAT and a fixed monthly charge, card CARD-42.
"""

from __future__ import annotations

import re
import shutil
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rig.billing import BillingCentre, Tax, open_billing
from rig.station.console import create_console_app
from rig.station.console.writer import CardWriter

METER = "000000000042"
CARD = "CARD-42"
STATION = "DESK-1"
PASSWORDS = {"carol": "carol-pass-1", "sam": "sam-pass-22", "ada": "ada-pass-333"}
ROLES = {"carol": "cashier", "sam": "supervisor", "ada": "administrator"}


def seed(centre: BillingCentre, *, meter_no: str = METER, card: str = CARD,
         unit: str = "money_cents", commissioning_wh: int = 0, profile: str = "p") -> None:
    centre.register_station(STATION)
    for name, role in ROLES.items():
        centre.register_operator(name, role)
        centre.set_password(name, PASSWORDS[name])
    centre.create_tariff("RES", Decimal("0.2500"), datetime(2024, 1, 1, tzinfo=UTC),
                         taxes=(Tax("VAT", Decimal("15")),), fixed_monthly=Decimal("2.00"))
    centre.register_customer("Grace Hopper", "ACC-1", "1 Harbour Road")
    centre.register_meter(meter_no, customer_account="ACC-1", profile=profile, credit_unit=unit,
                          tariff_code="RES", key_revision=1,
                          commissioning_energy_wh=commissioning_wh,
                          commissioned_at=datetime(2024, 1, 1, tzinfo=UTC))
    centre.issue_card(meter_no, card)


@pytest.fixture(autouse=True)
def _quiet_sqlite_decimal() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Decimal.*")
        yield


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated, seeded database file; each test gets its own copy (migrations and
    password hashing are the slow part of a console test)."""
    path = tmp_path_factory.mktemp("console-seed") / "seed.sqlite"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Decimal.*")
        c = open_billing(f"sqlite:///{path}")
        seed(c)
        c.close()
    return path


@pytest.fixture
def centre(tmp_path: Path, seeded_db: Path) -> Iterator[BillingCentre]:
    db = tmp_path / "console.sqlite"
    shutil.copyfile(seeded_db, db)
    c = open_billing(f"sqlite:///{db}")
    yield c
    c.close()


def make_client(centre: BillingCentre, writer: CardWriter | None = None) -> TestClient:
    app = create_console_app(centre, station=STATION, writer=writer, secure_cookies=False)
    return TestClient(app, base_url="http://127.0.0.1")


@pytest.fixture
def client(centre: BillingCentre) -> TestClient:
    return make_client(centre)


CSRF = re.compile(r'name="csrf" value="([^"]+)"')
LOGIN_TOKEN = re.compile(r'name="login_token" value="([^"]+)"')


def login(client: TestClient, name: str) -> str:
    """Log ``name`` in; returns the session's CSRF token (read from a page, like a browser)."""
    page = client.get("/login")
    token = LOGIN_TOKEN.search(page.text)
    assert token is not None
    r = client.post("/login", data={"name": name, "password": PASSWORDS[name],
                                    "login_token": token.group(1), "next": "/"})
    assert r.status_code == 200, r.text  # followed the redirect to home
    return csrf_of(client.get("/").text)


def csrf_of(html: str) -> str:
    m = CSRF.search(html)
    assert m is not None, "no CSRF token in the page"
    return m.group(1)


def open_shift(client: TestClient, csrf: str, float_: str = "50.00") -> None:
    r = client.post("/session/open", data={"csrf": csrf, "opening_float": float_})
    assert "opened" in r.text, r.text
