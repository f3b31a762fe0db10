"""The REST API in-process (FastAPI TestClient): auth, roles, the wire format and the mapping
of the service's refusals onto HTTP. The real-TCP server is in test_api_server.py."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from rig.billing import BillingCentre, open_billing
from rig.billing.api import create_app
from tests.billing.api_helpers import CARD, METER, STATION, Seed, clock, readback_json, seed


@pytest.fixture
def centre(billing_url: str) -> Iterator[BillingCentre]:
    """On SQLite and on PostgreSQL (tests/billing/conftest.py)."""
    c = open_billing(billing_url, clock=clock())
    yield c
    c.close()


@pytest.fixture
def env(centre: BillingCentre) -> Seed:
    return seed(centre)


@pytest.fixture
def client(centre: BillingCentre) -> Iterator[TestClient]:
    with TestClient(create_app(centre)) as c:
        yield c


def vend(client: TestClient, env: Seed, rid: str = "r-1", amount: str = "10.00",
         role: str = "cashier"):
    return client.post("/vends", headers=env.auth(role), json={
        "meter_no": METER, "amount": amount, "request_id": rid, "station": STATION})


# -- authentication ---------------------------------------------------------------------------


def test_no_token_or_a_wrong_one_is_401(client: TestClient, env: Seed) -> None:
    r = client.get("/meters")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in r.json()["detail"]
    r = client.get("/meters", headers={"Authorization": "Bearer rig_not-a-token"})
    assert (r.status_code, r.json()["error"]) == (401, "unauthorized")
    assert "unknown or revoked" in r.json()["detail"]
    assert client.get("/me", headers=env.auth("cashier")).json()["name"] == "carol"


def test_tokens_are_stored_hashed_and_revocable(client: TestClient, env: Seed,
                                                centre: BillingCentre) -> None:
    r = client.post("/tokens", headers=env.auth("administrator"),
                    json={"operator": "carol", "label": "till 2"})
    assert r.status_code == 201
    secret, info = r.json()["token"], r.json()["info"]
    assert (info["operator"], info["role"], info["created_by"]) == ("carol", "cashier", "ann")
    assert client.get("/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    # The database holds no secret, and the listing and the audit log show none either.
    with centre.engine.connect() as conn:
        dump = "\n".join(str(row) for row in conn.exec_driver_sql("SELECT * FROM api_tokens"))
        audit = "\n".join(str(row) for row in conn.exec_driver_sql("SELECT * FROM audit_events"))
    assert secret not in dump and secret not in audit
    assert secret not in client.get("/tokens", headers=env.auth("administrator")).text
    assert "secret" not in repr(centre.create_api_token("sam", actor="ann"))
    r = client.delete(f"/tokens/{info['token_id']}", headers=env.auth("administrator"))
    assert r.status_code == 200 and r.json()["revoked_at"] is not None
    assert client.get("/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    again = client.delete(f"/tokens/{info['token_id']}", headers=env.auth("administrator"))
    assert again.status_code == 409 and "already revoked" in again.json()["detail"]


def test_only_an_administrator_creates_tokens(client: TestClient, env: Seed) -> None:
    for role in ("cashier", "supervisor"):
        r = client.post("/tokens", headers=env.auth(role), json={"operator": "ann"})
        assert r.status_code == 403
        assert "managing API tokens needs an administrator" in r.json()["detail"]
    r = client.post("/tokens", headers=env.auth("administrator"), json={"operator": "nobody"})
    assert r.status_code == 404 and "'nobody' is not registered" in r.json()["detail"]


# -- roles ------------------------------------------------------------------------------------


def test_cashier_cannot_change_tariffs_or_reverse(client: TestClient, env: Seed,
                                                  centre: BillingCentre) -> None:
    r = client.post("/tariffs", headers=env.auth("cashier"), json={
        "code": "RES", "price_per_kwh": "0.2000", "effective_from": "2024-02-01T00:00:00Z"})
    assert r.status_code == 403
    assert r.json() == {"error": "forbidden", "reason": None, "detail":
                        "operator 'carol' is a cashier; changing tariffs needs an administrator"}
    v = vend(client, env).json()
    r = client.post(f"/vends/{v['vend_id']}/reversal", headers=env.auth("cashier"),
                    json={"reason": "customer changed mind"})
    assert r.status_code == 403
    assert r.json()["detail"] == ("operator 'carol' is a cashier; reversing a vend needs a "
                                  "supervisor or an administrator")
    assert [t.version for t in centre.tariffs("RES")] == [1]
    assert centre.vend_by_id(v["vend_id"]).status.value == "created"


def test_supervisor_reverses_but_cannot_touch_master_data(client: TestClient,
                                                          env: Seed) -> None:
    v = vend(client, env).json()
    r = client.post(f"/vends/{v['vend_id']}/reversal", headers=env.auth("supervisor"),
                    json={"reason": "card writer failed"})
    assert r.status_code == 200 and r.json()["status"] == "reversed"
    for path, body in (
        ("/tariffs", {"code": "X", "price_per_kwh": "0.1", "effective_from": "2024-01-01"}),
        ("/customers", {"name": "B", "account_no": "ACC-2"}),
        ("/operators", {"name": "eve", "role": "administrator"}),
        ("/stations", {"code": "DESK-9"}),
    ):
        assert client.post(path, headers=env.auth("supervisor"), json=body).status_code == 403
    assert client.get("/audit/verify", headers=env.auth("supervisor")).status_code == 403


def test_role_matrix_of_supervisor_actions(client: TestClient, env: Seed) -> None:
    free = {"meter_no": METER, "credit": 500, "request_id": "f-1", "station": STATION,
            "reason": "compensation for outage"}
    params = {"alarm1": 500, "alarm2": 100}
    replace = {"new_card_serial": "CARD-2"}
    for role, expected in (("cashier", 403), ("supervisor", 201)):
        h = env.auth(role)
        assert client.post("/free-issues", headers=h, json=free).status_code == expected
        assert client.post(f"/meters/{METER}/parameters", headers=h,
                           json=params).status_code == expected
        assert client.post(f"/meters/{METER}/card-replacement", headers=h,
                           json=replace).status_code == expected
    presented = client.get("/cards/CARD-2", headers=env.auth("cashier")).json()
    assert (presented["meter_no"], presented["status"]) == (METER, "active")
    r = client.get("/cards/CARD-404", headers=env.auth("cashier"))
    assert r.status_code == 404 and r.json()["detail"] == "no card CARD-404"
    cards = client.get(f"/meters/{METER}/cards", headers=env.auth("cashier")).json()
    assert [(c["card_serial"], c["status"]) for c in cards] == [
        (CARD, "lost"), ("CARD-2", "active")]
    pending = client.get(f"/meters/{METER}/parameters", headers=env.auth("cashier")).json()
    assert pending == {"meter_no": METER, "pending": {"alarm1": 500, "alarm2": 100}}


# -- administrator master data ----------------------------------------------------------------


def test_administrator_builds_a_meter_and_a_cashier_sells(client: TestClient, env: Seed) -> None:
    admin = env.auth("administrator")
    steps = [
        ("/customers", {"name": "Grace Hopper", "account_no": "ACC-2", "address": "Navy Yard"}),
        ("/tariffs", {"code": "TOU", "price_per_kwh": "0.1000", "kind": "block",
                      "effective_from": "2024-01-01T00:00:00Z",
                      "blocks": [{"up_to_wh": 50000, "price_per_kwh": "0.1000"},
                                 {"up_to_wh": None, "price_per_kwh": "0.2500"}],
                      "taxes": [{"name": "VAT", "rate_percent": "15"}]}),
        ("/meters", {"meter_no": "000099990001", "customer_account": "ACC-2",
                     "profile": "emulated-1ph", "credit_unit": "energy_wh",
                     "tariff_code": "TOU", "key_revision": 1, "commissioning_energy_wh": 0,
                     "commissioned_at": "2024-01-01T00:00:00Z"}),
        ("/meters/000099990001/cards", {"card_serial": "CARD-G"}),
    ]
    for path, body in steps:
        r = client.post(path, headers=admin, json=body)
        assert r.status_code == 201, r.text
    tariff = client.get("/tariffs?code=TOU", headers=env.auth("cashier")).json()
    assert tariff[0]["blocks"][1] == {"up_to_wh": None, "price_per_kwh": "0.2500"}
    assert tariff[0]["taxes"] == [{"name": "VAT", "rate_percent": "15"}]
    r = client.post("/vends", headers=env.auth("cashier"), json={
        "meter_no": "000099990001", "amount": "23.00", "request_id": "g-1", "station": STATION})
    assert r.status_code == 201, r.text
    body = r.json()
    assert isinstance(body["amount"], str) and body["amount"] == "23.00"
    assert all(isinstance(line["amount"], str) for line in body["receipt"])
    assert sum(Decimal(line["amount"]) for line in body["receipt"]) == Decimal("23.00")
    # 23.00 incl. 15 % VAT = 20.00 of energy: 50 kWh at 0.10 (5.00) + 60 kWh at 0.25 (15.00).
    assert body["credit"] == 110_000 and body["operator"] == "carol"
    hits = client.get("/customers", params={"q": "hopper"}, headers=env.auth("cashier")).json()
    assert [c["account_no"] for c in hits] == ["ACC-2"]
    by_meter = client.get("/customers", params={"q": "00009999"},
                          headers=env.auth("cashier")).json()
    assert [c["account_no"] for c in by_meter] == ["ACC-2"]
    wildcard = client.get("/customers", params={"q": "%"}, headers=env.auth("cashier")).json()
    assert wildcard == []  # a literal %, not "everything"


def test_duplicates_and_unknowns_are_named(client: TestClient, env: Seed) -> None:
    admin = env.auth("administrator")
    r = client.post("/customers", headers=admin, json={"name": "Ada", "account_no": "ACC-1"})
    assert (r.status_code, r.json()["error"]) == (409, "conflict")
    assert r.json()["detail"] == "customer account 'ACC-1' already exists"
    r = client.post("/meters", headers=admin, json={
        "meter_no": "000000000002", "customer_account": "ACC-404", "profile": "p",
        "credit_unit": "money_cents", "tariff_code": "RES", "key_revision": 0,
        "commissioning_energy_wh": 0, "commissioned_at": "2024-01-01T00:00:00Z"})
    assert r.status_code == 404 and "ACC-404" in r.json()["detail"]
    r = client.get("/meters/000000000404", headers=env.auth("cashier"))
    assert r.status_code == 404 and "000000000404 is not registered" in r.json()["detail"]
    assert client.get("/vends/999", headers=env.auth("cashier")).status_code == 404


# -- vending over HTTP ------------------------------------------------------------------------


def test_vend_is_idempotent_and_refusals_keep_their_reason(client: TestClient, env: Seed) -> None:
    r = client.post("/vends", headers=env.auth("cashier"), json={
        "meter_no": METER, "amount": "5.00", "request_id": "r-0", "station": "NOPE"})
    # A station the token is not bound to (here: not even registered) is refused first.
    assert (r.status_code, r.json()["error"]) == (403, "forbidden")
    assert "not at station 'NOPE'" in r.json()["detail"]
    first = vend(client, env, "r-1")
    again = vend(client, env, "r-1")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    r = vend(client, env, "r-1", amount="11.00")
    assert (r.status_code, r.json()["reason"]) == (409, "request_id_conflict")
    r = vend(client, env, "r-2")
    assert (r.status_code, r.json()["reason"]) == (409, "unapplied_purchase")
    assert "still carries purchase #1" in r.json()["detail"]
    limits = client.get("/vend-limits", headers=env.auth("cashier")).json()
    assert limits == {"minimum": "1.00", "maximum": "10000.00"}
    r = vend(client, env, "r-3", amount="0.50")
    assert (r.status_code, r.json()["reason"]) == (422, "amount_below_minimum")


def test_money_must_be_a_string_never_a_json_number(client: TestClient, env: Seed,
                                                    centre: BillingCentre) -> None:
    r = client.post("/vends", headers=env.auth("cashier"), json={
        "meter_no": METER, "amount": 10.1, "request_id": "f-1", "station": STATION})
    assert r.status_code == 422 and r.json()["error"] == "invalid_request"
    assert "body.amount" in r.json()["detail"] and "JSON string" in r.json()["detail"]
    r = client.post("/vends", headers=env.auth("cashier"), json={
        "meter_no": METER, "amount": "ten", "request_id": "f-2", "station": STATION})
    assert r.status_code == 422 and "body.amount" in r.json()["detail"]
    r = client.post("/vends", headers=env.auth("cashier"), json={
        "meter_no": METER, "amount": "10.00", "request_id": "f-3", "station": STATION,
        "operator": "ann"})
    assert r.status_code == 422 and "body.operator" in r.json()["detail"]
    assert centre.vends_for_meter(METER) == []


def test_write_readback_reconcile_and_reprint(client: TestClient, env: Seed) -> None:
    cashier = env.auth("cashier")
    v = vend(client, env).json()
    assert client.post(f"/vends/{v['vend_id']}/written", headers=cashier).status_code == 204
    assert client.get(f"/vends/{v['vend_id']}", headers=cashier).json()["status"] == "written"
    # The meter applied 1000 cents and used 2 kWh at 0.15/kWh = 30 cents.
    r = client.post("/readbacks", headers=cashier, json=readback_json(
        energy_wh=3_000, remaining=970, purchase_count=1, last_sequence=1,
        cumulative_purchase=1000, card_serial=CARD))
    assert r.status_code == 201, r.text
    rec = r.json()
    assert rec["verdict"] == "balanced" and rec["failed"] == []
    assert rec["confirmed_vend_ids"] == [v["vend_id"]]
    purchase = next(c for c in rec["checks"] if c["name"] == "purchase_total")
    assert (purchase["expected"], purchase["actual"]) == (1000, 1000)
    latest = client.get(f"/meters/{METER}/reconciliation", headers=cashier).json()
    assert latest["reconciliation_id"] == rec["reconciliation_id"]
    r = client.post(f"/vends/{v['vend_id']}/reversal", headers=env.auth("supervisor"),
                    json={"reason": "too late"})
    assert r.status_code == 409 and "only an unconfirmed vend" in r.json()["detail"]
    text = client.post(f"/vends/{v['vend_id']}/reprint", headers=cashier).json()["text"]
    assert "*** REPRINT 1 ***" in text and METER in text
    assert client.get("/reconciliation-exceptions", headers=env.auth("supervisor")).json() == []


def test_mismatched_readback_is_stored_and_listed(client: TestClient, env: Seed) -> None:
    vend(client, env)
    r = client.post("/readbacks", headers=env.auth("cashier"), json=readback_json(
        energy_wh=1_000, remaining=999, purchase_count=1, last_sequence=1,
        cumulative_purchase=999))
    assert r.status_code == 201 and r.json()["verdict"] == "mismatch"
    assert "purchase_total" in r.json()["failed"]
    queue = client.get("/reconciliation-exceptions", headers=env.auth("supervisor")).json()
    assert [x["reconciliation_id"] for x in queue] == [r.json()["reconciliation_id"]]


def test_bad_readbacks_are_refused_with_the_field(client: TestClient, env: Seed) -> None:
    r = client.post("/readbacks", headers=env.auth("cashier"),
                    json=readback_json(energy_wh=-5))
    assert r.status_code == 422 and "body.energy_wh" in r.json()["detail"]
    r = client.post("/readbacks", headers=env.auth("cashier"),
                    json=readback_json(meter_no="000000000404"))
    assert r.status_code == 404 and "not registered" in r.json()["detail"]
    r = client.post("/readbacks", headers=env.auth("cashier"), json=readback_json(raw_hex="xyz"))
    assert r.status_code == 422 and "body.raw_hex" in r.json()["detail"]


def test_audit_records_the_operator_and_verifies(client: TestClient, env: Seed,
                                                 centre: BillingCentre) -> None:
    client.post("/customers", headers=env.auth("administrator"),
                json={"name": "Grace", "account_no": "ACC-2"})
    vend(client, env)
    actions = [(e.actor, e.action) for e in centre.audit_log()]
    assert ("ann", "customer.register") in actions and ("carol", "vend.create") in actions
    r = client.get("/audit/verify", headers=env.auth("administrator"))
    body = r.json()
    assert {k: body[k] for k in ("ok", "events", "broken_seq", "problem", "problems")} == {
        "ok": True, "events": len(actions), "broken_seq": None, "problem": "", "problems": []}
    assert body["totals"]["vends"] == "1" and body["legacy"] + body["keyed"] == len(actions)


def test_openapi_schema_describes_auth_and_string_money(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    vend_in = schema["components"]["schemas"]["VendIn"]["properties"]["amount"]
    assert vend_in["type"] == "string"
    vend_out = schema["components"]["schemas"]["VendOut"]["properties"]["amount"]
    assert vend_out["type"] == "string"
    assert "/vends/{vend_id}/reversal" in schema["paths"]


def test_every_route_but_health_and_docs_needs_a_token(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    operations = [(method, path) for path, ops in paths.items() for method in ops]
    assert len(operations) > 25
    for method, path in operations:
        concrete = path.replace("{", "").replace("}", "")  # any value for path parameters
        r = client.request(method.upper(), concrete, json={})
        expected = 200 if path == "/health" else 401
        assert r.status_code == expected, (method, path, r.status_code)
        security = paths[path][method].get("security")
        assert (security is None) == (path == "/health"), (method, path)


def test_an_unexpected_failure_is_a_500_without_internals(centre: BillingCentre,
                                                          env: Seed) -> None:
    def broken(_vend_id: int) -> None:
        raise RuntimeError("database exploded at /secret/path")

    centre.vend_by_id = broken  # type: ignore[method-assign]
    with TestClient(create_app(centre), raise_server_exceptions=False) as c:
        r = c.get("/vends/1", headers=env.auth("cashier"))
    assert r.status_code == 500
    assert r.json() == {"error": "internal", "reason": None,
                        "detail": "internal error (RuntimeError); the server log has the details"}
