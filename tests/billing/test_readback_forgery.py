"""Issue 19 §2: the centre verifies readbacks itself. Each attack is made through the real REST
server (uvicorn on a TCP socket) with a cashier token, the way a dishonest desk or a stolen token
would: a claimed ``mac_verified``, no raw record, a forged MAC, a MAC made with every key a
vending station holds. None may confirm the vend, reconcile as balanced or block the
supervisor's reversal; the meter's genuine record (its own readback key) still does all three.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from rig.billing import BillingCentre, CreditUnit, ReadbackData, VendStatus, open_billing
from rig.billing.readback_format import formats as readback_formats
from rig.billing.remote import RemoteBillingCentre
from rig.card.keys import derive_card_key, derive_meter_key, derive_readback_key
from rig.card.records import ReadbackRecord
from rig.sim.emulated_bench import lab_master_key
from tests.billing.api_helpers import (
    CARD,
    E0,
    KEY_REVISION,
    METER,
    STATION,
    T0,
    Seed,
    clock,
    readback_json,
    seed,
)
from tests.billing.ledger import genuine
from tests.billing.live_server import serving

SERIAL = "C0FFEE0000000001"  # the card serial the station's card keys are derived for
APPLIED = dict(energy_wh=E0 + 2000, remaining=970, purchase_count=1, last_sequence=1,
               cumulative_purchase=1000)  # the meter applied vend 1 and used 2 kWh


@pytest.fixture
def centre(billing_url: str) -> Iterator[BillingCentre]:
    """On SQLite and on PostgreSQL (tests/billing/conftest.py)."""
    c = open_billing(billing_url, clock=clock())
    yield c
    c.close()


@pytest.fixture
def served(centre: BillingCentre) -> Iterator[tuple[httpx.Client, Seed, int]]:
    """The served centre, a cashier's HTTP client, and vend 1 written to the card."""
    env = seed(centre)
    with serving(centre) as url, httpx.Client(base_url=url, headers=env.auth("cashier"),
                                              timeout=120) as http:  # a loaded machine
        r = http.post("/vends", json={"meter_no": METER, "amount": "10.00",
                                      "request_id": "rb-1", "station": STATION})
        assert r.status_code == 201, r.text
        vend_id = r.json()["vend_id"]
        assert http.post(f"/vends/{vend_id}/written").status_code == 204
        yield http, env, vend_id


def applied() -> ReadbackData:
    return ReadbackData(
        meter_no=METER, overdraft=0, credit_unit=CreditUnit.MONEY_CENTS, relay_open=False,
        alarm_active=False, alarm_count=0, cutoff_count=0, tamper_count=0, power_down_count=0,
        timestamp=T0 + timedelta(days=10), tariff_version=1, **APPLIED)


def signed_with(key: bytes) -> str:
    """The meter's readback fields, MAC'd under ``key`` instead of the meter's readback key."""
    record = ReadbackRecord.from_bytes(genuine(applied(), KEY_REVISION))
    return dataclasses.replace(record, mac=b"\0" * 8).sign(key).to_bytes().hex()


def station_keys() -> dict[str, bytes]:
    """Every key a vending station holds or derives for this meter and card (it holds the
    issuer master key): the meter key, the card key and the card's readback-write key."""
    master = lab_master_key()
    meter_key = derive_meter_key(master, METER, KEY_REVISION)
    return {"meter key": meter_key,
            "card key 01": derive_card_key(master, SERIAL, KEY_REVISION),
            "card key 02": derive_readback_key(meter_key, SERIAL)}


def assert_not_believed(http: httpx.Client, env: Seed, vend_id: int,
                        result: dict[str, Any]) -> None:
    """Stored, but unverified: no vend confirmed, a mismatch, and the reversal still works."""
    assert result["verdict"] == "mismatch" and "mac_verified" in result["failed"], result
    assert result["confirmed_vend_ids"] == []
    assert result["evidence"]["mac"]["verified_by_centre"] is False
    assert http.get(f"/vends/{vend_id}").json()["status"] == "written"
    r = http.post(f"/vends/{vend_id}/reversal", headers=env.auth("supervisor"),
                  json={"reason": "customer cancelled before inserting the card"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "reversed"


def test_a_claimed_mac_verified_is_refused_and_nothing_stored(
        served: tuple[httpx.Client, Seed, int], centre: BillingCentre) -> None:
    http, _env, vend_id = served
    body = readback_json(**APPLIED, mac_verified=True)
    del body["raw_hex"]
    r = http.post("/readbacks", json=body)
    assert r.status_code == 422, r.text
    assert "body.mac_verified" in r.json()["detail"]
    assert centre.latest_reconciliation(METER) is None
    # ... and with a genuine raw record too: the claim itself is not a client's to make
    r = http.post("/readbacks", json=readback_json(**APPLIED, mac_verified=True))
    assert r.status_code == 422 and centre.latest_reconciliation(METER) is None
    assert http.get(f"/vends/{vend_id}").json()["status"] == "written"


def test_a_readback_without_its_raw_record_confirms_nothing(
        served: tuple[httpx.Client, Seed, int]) -> None:
    http, env, vend_id = served
    body = readback_json(**APPLIED, card_serial=CARD)
    del body["raw_hex"]
    r = http.post("/readbacks", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["evidence"]["mac"]["reason"] == "no raw record: the centre cannot verify it"
    assert_not_believed(http, env, vend_id, r.json())


def test_a_forged_mac_confirms_nothing(served: tuple[httpx.Client, Seed, int]) -> None:
    http, env, vend_id = served
    raw = bytearray(genuine(applied(), KEY_REVISION))
    raw[-1] ^= 0x01
    r = http.post("/readbacks", json=readback_json(**APPLIED, raw_hex=raw.hex()))
    assert r.status_code == 201, r.text
    assert "MAC does not verify" in r.json()["evidence"]["mac"]["reason"]
    assert_not_believed(http, env, vend_id, r.json())


@pytest.mark.parametrize("key_name", sorted(station_keys()))
def test_a_mac_made_with_the_station_keys_confirms_nothing(
        served: tuple[httpx.Client, Seed, int], key_name: str) -> None:
    http, env, vend_id = served
    r = http.post("/readbacks", json=readback_json(**APPLIED,
                                                   raw_hex=signed_with(station_keys()[key_name])))
    assert r.status_code == 201, r.text
    assert_not_believed(http, env, vend_id, r.json())


def test_fields_that_disagree_with_the_raw_record_are_refused(
        served: tuple[httpx.Client, Seed, int], centre: BillingCentre) -> None:
    http, _env, vend_id = served
    genuine_hex = genuine(applied(), KEY_REVISION).hex()
    r = http.post("/readbacks", json=readback_json(**{**APPLIED, "remaining": 5000},
                                                   raw_hex=genuine_hex))
    assert r.status_code == 400, r.text
    assert r.json()["detail"] == ("remaining: 5000 disagrees with the raw record's 970 "
                                  "(nothing stored)")
    r = http.post("/readbacks", json=readback_json(**APPLIED, raw_hex=genuine_hex[:-2]))
    assert r.status_code == 400
    sizes = " or ".join(sorted({str(f.record_size) for f in readback_formats()}))
    assert f"raw_hex: a readback record is {sizes} bytes, got 56" in r.text
    assert centre.latest_reconciliation(METER) is None
    assert http.get(f"/vends/{vend_id}").json()["status"] == "written"


def test_the_meter_genuine_record_confirms_balances_and_blocks_reversal(
        served: tuple[httpx.Client, Seed, int]) -> None:
    http, env, vend_id = served
    r = http.post("/readbacks", json=readback_json(**APPLIED, card_serial=CARD))
    assert r.status_code == 201, r.text
    result = r.json()
    assert result["verdict"] == "balanced" and result["confirmed_vend_ids"] == [vend_id]
    assert result["evidence"]["mac"]["verified_by_centre"] is True
    r = http.post(f"/vends/{vend_id}/reversal", headers=env.auth("supervisor"),
                  json={"reason": "too late: the meter applied it"})
    assert r.status_code == 409, r.text


def test_the_remote_client_cannot_claim_a_verification(
        served: tuple[httpx.Client, Seed, int]) -> None:
    http, env, vend_id = served
    with RemoteBillingCentre(str(http.base_url), env.tokens["cashier"]) as remote:
        claimed = dataclasses.replace(applied(), mac_verified=True)
        result = remote.ingest_readback(claimed, raw=bytes.fromhex(
            signed_with(station_keys()["meter key"])))
    assert not result.evidence["mac"]["verified_by_centre"]
    assert result.confirmed_vend_ids == ()
    assert http.get(f"/vends/{vend_id}").json()["status"] == VendStatus.WRITTEN.value
