"""Bounds on every input of the REST API (issue 19, section 4): values that used to reach the
database and come back as HTTP 500, values the meter's card format cannot carry, money text
that ``Decimal`` would take but a ledger must not, identifiers outside their alphabet, and
request bodies above the size limit (over a real socket: refused before they are read)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from rig.billing import BillingCentre, open_billing
from rig.billing.api import create_app
from rig.billing.api.body_limit import DEFAULT_MAX_BODY_BYTES
from tests.billing.api_helpers import METER, STATION, Seed, clock, readback_json, seed
from tests.billing.live_server import serving

BIG = 2**64
NEW_METER = "000000000077"
# The size limit sits in front of the database: one backend is enough there.
SQLITE_ONLY = pytest.mark.parametrize("billing_url", ["sqlite"], indirect=True)


@pytest.fixture
def centre(billing_url: str) -> Iterator[BillingCentre]:
    c = open_billing(billing_url, clock=clock())
    yield c
    c.close()


@pytest.fixture
def env(centre: BillingCentre) -> Seed:
    return seed(centre)


@pytest.fixture
def client(centre: BillingCentre) -> Iterator[TestClient]:
    with TestClient(create_app(centre), raise_server_exceptions=False) as c:
        yield c


def _vend(amount: str) -> tuple[str, str, dict[str, Any]]:
    return ("POST", "/vends", {"meter_no": METER, "amount": amount, "request_id": "r-" + amount,
                               "station": STATION})


def _tariff(**over: Any) -> tuple[str, str, dict[str, Any]]:
    body = {"code": "NEW", "price_per_kwh": "0.2000", "effective_from": "2024-01-01T00:00Z"}
    return ("POST", "/tariffs", body | over)


def _meter(**over: Any) -> tuple[str, str, dict[str, Any]]:
    body = {"meter_no": NEW_METER, "customer_account": "ACC-1", "profile": "dlt645-1p-money",
            "credit_unit": "money_cents", "tariff_code": "RES", "key_revision": 1,
            "commissioning_energy_wh": 0, "commissioned_at": "2024-01-01T00:00Z"}
    return ("POST", "/meters", body | over)


# (request, the field the 422 must name)
REFUSED = [
    # the fifteen that were HTTP 500
    (_vend("1e999"), "body.amount"),
    (_vend("1E+999"), "body.amount"),
    (_vend("12345678901234567890"), "body.amount"),
    (("GET", f"/vends/{BIG}", None), "path.vend_id"),
    (("POST", f"/vends/{BIG}/written", None), "path.vend_id"),
    (("POST", f"/vends/{BIG}/reprint", None), "path.vend_id"),
    (("DELETE", f"/tokens/{BIG}", None), "path.token_id"),
    (_tariff(version=BIG), "body.version"),
    (_meter(key_revision=BIG), "body.key_revision"),
    (_meter(hoarding_limit=BIG), "body.hoarding_limit"),
    (("PUT", f"/meters/{METER}/hoarding-limit", {"hoarding_limit": BIG}),
     "body.hoarding_limit"),
    (("POST", "/readbacks", readback_json(energy_wh=BIG)), "body.energy_wh"),
    (("POST", "/readbacks", readback_json(last_sequence=BIG)), "body.last_sequence"),
    (_tariff(price_per_kwh="1e20"), "body.price_per_kwh"),
    (_tariff(effective_from="0001-01-01T00:00+14:00"), "body.effective_from"),
    # what the card format cannot carry
    (_meter(key_revision=300), "body.key_revision"),
    (_tariff(version=70000), "body.version"),
    (_tariff(price_per_kwh="500000"), "body.price_per_kwh"),
    (("POST", f"/meters/{METER}/parameters", {"alarm1": BIG}), "body.alarm1"),
    (_meter(commissioning_energy_wh=BIG), "body.commissioning_energy_wh"),
    (("POST", "/free-issues", {"meter_no": METER, "credit": BIG, "request_id": "f",
                               "station": STATION, "reason": "x"}), "body.credit"),
    # money text Decimal() takes but a ledger must not
    (_vend("２０"), "body.amount"),
    (_vend("٢٠"), "body.amount"),
    (_vend("1_000"), "body.amount"),
    (_vend("5e3"), "body.amount"),
    (_vend(" 20"), "body.amount"),
    (_vend("10.001"), "body.amount"),
    (_tariff(fixed_monthly="1.005"), "body.fixed_monthly"),
    (_tariff(version=-5), "body.version"),
    # identifiers
    (_meter(meter_no="００００００００００７７"), "body.meter_no"),
    (_meter(meter_no="00000000007\n"), "body.meter_no"),
    (_meter(profile="../../etc/passwd"), "body.profile"),
    (("POST", f"/meters/{METER}/cards", {"card_serial": "C-9", "card_type": "whatever"}),
     "body.card_type"),
    (_tariff(taxes=[{"name": "x" * 1_000_000, "rate_percent": "15"}]), "body.taxes.0.name"),
    (_tariff(taxes=[{"name": "VAT\n", "rate_percent": "15"}]), "body.taxes.0.name"),
    (_tariff(utc_offset_minutes=BIG), "body.utc_offset_minutes"),
]


def test_out_of_bounds_inputs_are_422_naming_the_field_and_change_nothing(
        client: TestClient, env: Seed, centre: BillingCentre) -> None:
    for (method, path, body), field in REFUSED:
        r = client.request(method, path, json=body, headers=env.auth("administrator"))
        shown = (method, path, str(body)[:80])
        assert r.status_code == 422, (shown, r.status_code, r.text[:300])
        assert r.json()["error"] == "invalid_request", shown
        assert r.json()["detail"].startswith(field + ":"), (shown, r.json()["detail"][:200])
    assert centre.vends_for_meter(METER) == []
    assert [t.code for t in centre.tariffs()] == ["RES"]
    assert [x.meter_no for x in centre.meters()] == [METER]
    assert centre.pending_parameters(METER) is None


def test_money_comes_back_with_the_currency_places(client: TestClient, env: Seed) -> None:
    r = client.post("/vends", headers=env.auth("cashier"), json={
        "meter_no": METER, "amount": "20", "request_id": "r-20", "station": STATION})
    assert r.status_code == 201 and r.json()["amount"] == "20.00"
    r = client.post("/tariffs", headers=env.auth("administrator"),
                    json={"code": "TOP", "price_per_kwh": "429496.7295",
                          "effective_from": "2024-01-01T00:00Z", "version": 65535})
    assert r.status_code == 201, r.text  # the largest price and version a card holds
    assert (r.json()["price_per_kwh"], r.json()["version"]) == ("429496.7295", 65535)


def test_the_service_refuses_what_the_card_cannot_carry(env: Seed,
                                                        centre: BillingCentre) -> None:
    """The same rules hold for every caller of the service (CLI, console, remote benches)."""
    from datetime import UTC, datetime
    from decimal import Decimal

    from rig.billing import inputs

    at = datetime(2024, 1, 1, tzinfo=UTC)

    def meter(**over: Any) -> None:
        kw: dict[str, Any] = dict(customer_account="ACC-1", profile="p", credit_unit="energy_wh",
                                  tariff_code="RES", key_revision=1, commissioning_energy_wh=0,
                                  commissioned_at=at)
        centre.register_meter(NEW_METER, **(kw | over))

    for over, field in (({"key_revision": 300}, "key_revision"),
                        ({"profile": "../../etc/passwd"}, "profile"),
                        ({"commissioning_energy_wh": BIG}, "commissioning_energy_wh"),
                        ({"hoarding_limit": BIG}, "hoarding limit")):
        with pytest.raises(inputs.BillingError, match=field):
            meter(**over)
    for kw, field in (({"version": 70000}, "version"),
                      ({"price_per_kwh": Decimal("500000")}, "price_per_kwh"),
                      ({"effective_from": datetime(1, 1, 1, tzinfo=UTC)}, "effective_from")):
        args: dict[str, Any] = {"price_per_kwh": Decimal("0.1"), "effective_from": at} | kw
        with pytest.raises(inputs.BillingError, match=field):
            centre.create_tariff("NEW", **args)
    with pytest.raises(inputs.BillingError, match="alarm1"):
        centre.queue_parameters(METER, operator="sam", alarm1=BIG)
    with pytest.raises(inputs.BillingError, match="card_type"):
        centre.issue_card(METER, "C-2", "free text")
    with pytest.raises(inputs.BillingError, match="12 digits"):
        centre.register_meter("００００００００００７７", customer_account="ACC-1", profile="p",
                              credit_unit="money_cents", tariff_code="RES", key_revision=1,
                              commissioning_energy_wh=0, commissioned_at=at)
    with pytest.raises(inputs.BillingError, match="no vend"):
        centre.vend_by_id(BIG)
    assert centre.tariffs("NEW") == [] and [x.meter_no for x in centre.meters()] == [METER]


def test_a_sale_the_purchase_record_cannot_hold_is_refused(centre: BillingCentre) -> None:
    """An energy meter on a tiny price: 10,000.00 would buy 10**11 Wh, over a card's u32."""
    from datetime import UTC, datetime
    from decimal import Decimal

    from rig.billing import VendRefused

    at = datetime(2024, 1, 1, tzinfo=UTC)
    centre.register_operator("carol", "cashier")
    centre.register_station(STATION)
    centre.register_customer("Ada", "ACC-1")
    centre.create_tariff("CHEAP", Decimal("0.0001"), at)
    centre.register_meter(NEW_METER, customer_account="ACC-1", profile="p",
                          credit_unit="energy_wh", tariff_code="CHEAP", key_revision=1,
                          commissioning_energy_wh=0, commissioned_at=at)
    centre.issue_card(NEW_METER, "C-1")
    with pytest.raises(VendRefused) as refused:
        centre.vend(NEW_METER, Decimal("10000.00"), request_id="big", station=STATION,
                    operator="carol")
    assert refused.value.reason == "credit_above_card_limit"
    assert centre.vends_for_meter(NEW_METER) == []
    ok = centre.vend(NEW_METER, Decimal("400.00"), request_id="ok", station=STATION,
                     operator="carol")
    assert ok.credit == 4_000_000_000


# -- request body size ------------------------------------------------------------------------


def _request_head(url: str, path: str, headers: dict[str, str]) -> tuple[socket.socket, bytes]:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port))
    sock.settimeout(60)  # only so that a server waiting for the body fails the test, not hangs
    lines = [f"POST {path} HTTP/1.1", f"Host: {parts.hostname}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return sock, ("\r\n".join(lines) + "\r\n\r\n").encode()


def _read_reply(sock: socket.socket) -> tuple[int, bytes]:
    """Status and the whole reply (the server closes the connection after a 413)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return int(data.split()[1]), data


@SQLITE_ONLY
def test_a_declared_100_mb_body_is_refused_before_it_is_sent(env: Seed,
                                                             centre: BillingCentre) -> None:
    """The server answers 413 to the headers alone: not a byte of the body is read, parsed or
    held in memory, and authentication is never reached (no token is sent)."""
    with serving(centre) as url:
        sock, head = _request_head(url, "/vends", {
            "Content-Type": "application/json", "Content-Length": str(100 * 1024 * 1024)})
        with sock:
            sock.sendall(head)  # and no body at all: the server must not wait for it
            status, reply = _read_reply(sock)
    assert status == 413, reply
    assert b"larger than the limit" in reply and b"nothing was read" in reply


@SQLITE_ONLY
def test_a_chunked_body_is_cut_off_at_the_limit(env: Seed, centre: BillingCentre) -> None:
    """Without a length the body is counted as it arrives; the 413 comes as soon as it passes
    the limit, long before the 100 MB the client means to send."""
    chunk = b"x" * 65536
    total = 100 * 1024 * 1024
    sent = 0
    with serving(centre) as url:
        sock, head = _request_head(url, "/vends", {
            "Content-Type": "application/json", "Transfer-Encoding": "chunked",
            **env.auth("administrator")})
        with sock:
            sock.sendall(head)
            try:
                while sent < total:
                    sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    sent += len(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server answered and closed the connection
            status, reply = _read_reply(sock)
    assert status == 413, reply
    assert sent < total, "the server read the whole body before answering"


@SQLITE_ONLY
def test_bodies_within_the_limit_still_work(env: Seed, centre: BillingCentre) -> None:
    import httpx

    with serving(centre) as url:
        big_but_allowed = {"meter_no": METER, "amount": "10.00", "request_id": "r-pad",
                           "station": STATION, "pad": "x" * (DEFAULT_MAX_BODY_BYTES // 2)}
        r = httpx.post(f"{url}/vends", json=big_but_allowed, headers=env.auth("cashier"),
                       timeout=60)
        assert r.status_code == 422 and "body.pad" in r.json()["detail"]  # read and parsed
        r = httpx.post(f"{url}/vends", timeout=60, headers=env.auth("cashier"), json={
            "meter_no": METER, "amount": "10.00", "request_id": "r-ok", "station": STATION})
        assert r.status_code == 201
