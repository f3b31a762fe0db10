"""A token sale at the console: the vend page shows the STS token in groups of 4 for the
meter's keypad, and no card is written for it."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from rig.billing import BillingCentre
from rig.sts.token import grouped

from .conftest import login, open_shift

KEYPAD_METER = "000010020001"


def test_a_token_sale_shows_the_token_and_writes_no_card(client: TestClient,
                                                         centre: BillingCentre) -> None:
    centre.register_meter(KEYPAD_METER, customer_account="ACC-1", profile="iec62056-1p-energy",
                          credit_unit="energy_wh", tariff_code="RES", key_revision=1,
                          commissioning_energy_wh=0,
                          commissioned_at=datetime(2024, 1, 1, tzinfo=UTC))
    centre.register_sts_meter(KEYPAD_METER, {"pan": "600727000000000009",
                                             "supply_group": "123456", "base_date": 2014})
    csrf = login(client, "carol")
    open_shift(client, csrf)
    preview = client.post("/vend/preview", data={"csrf": csrf, "meter_no": KEYPAD_METER,
                                                 "amount": "20.00"})
    rid = preview.text.split('name="request_id" value="')[1].split('"')[0]
    page = client.post("/vend/confirm", data={"csrf": csrf, "meter_no": KEYPAD_METER,
                                              "amount": "20.00", "request_id": rid}).text
    [vend] = centre.vends_for_meter(KEYPAD_METER)
    assert vend.token is not None
    assert grouped(vend.token) in page and "no card is written" in page
    assert 'id="write"' not in page and "Token for the meter's keypad" in page
    written = client.post(f"/vends/{vend.vend_id}/write", data={"csrf": csrf})
    assert "there is no card to write" in written.text
    assert centre.vend_by_id(vend.vend_id).status.value == "created"
