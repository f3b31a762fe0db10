"""Attacks on the REST API's tokens over real TCP (uvicorn in-process, httpx): a cashier's
token selling at another station (an agent's desk, drawing the agent's float), selling with
no cashier session open, a token used after it expired, and framing / sniffing headers."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from rig.billing import BillingCentre, open_billing
from rig.cli.main import app as cli
from tests.billing.api_helpers import METER, STATION, Clock, Seed, clock, seed
from tests.billing.live_server import serving

AGENT_DESK = "AGENT-1"


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'access.sqlite'}"


@pytest.fixture
def now() -> Clock:
    return clock()


@pytest.fixture
def centre(db: str, now: Clock) -> Iterator[BillingCentre]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Decimal.*")
        c = open_billing(db, clock=now)
        yield c
        c.close()


@pytest.fixture
def env(centre: BillingCentre) -> Seed:
    e = seed(centre)
    centre.register_station(AGENT_DESK)
    centre.register_agent("Corner Shop")
    centre.assign_agent_station("Corner Shop", AGENT_DESK)
    centre.top_up_agent("Corner Shop", Decimal("100.00"), actor="sam")
    return e


def sale(request_id: str, station: str = STATION, amount: str = "10.00") -> dict[str, str]:
    return {"meter_no": METER, "amount": amount, "request_id": request_id, "station": station}


def test_a_cashier_token_cannot_sell_at_a_station_it_is_not_bound_to(
        centre: BillingCentre, env: Seed) -> None:
    with serving(centre) as url, httpx.Client(timeout=60, base_url=url) as http:
        r = http.post("/vends", headers=env.auth("cashier"), json=sale("at-agent", AGENT_DESK))
        assert r.status_code == 403, r.text
        assert (f"may sell at {STATION}, not at station '{AGENT_DESK}'"
                in r.json()["detail"])
        # Nor open a session there to make it look right.
        r = http.post("/sessions", headers=env.auth("cashier"), json={"station": AGENT_DESK})
        assert r.status_code == 403
        assert http.post("/vends", headers=env.auth("cashier"),
                         json=sale("at-desk")).status_code == 201
    assert centre.agent("Corner Shop").balance == Decimal("100.00")  # float untouched
    assert [v.station for v in centre.vends_for_meter(METER)] == [STATION]


def test_a_cashier_sells_only_inside_a_session_open_at_that_station(
        centre: BillingCentre, env: Seed) -> None:
    centre.register_operator("dave", "cashier")
    dave = centre.create_api_token("dave", actor="ann", stations=[STATION, AGENT_DESK]).secret
    auth = {"Authorization": f"Bearer {dave}"}
    with serving(centre) as url, httpx.Client(timeout=60, base_url=url, headers=auth) as http:
        r = http.post("/vends", json=sale("no-session", AGENT_DESK))
        assert (r.status_code, r.json()["reason"]) == (422, "no_open_session")
        assert "no cashier session open at station 'AGENT-1'" in r.json()["detail"]
        assert http.get("/sessions/current").json() is None
        opened = http.post("/sessions", json={"station": STATION, "opening_float": "25.00"})
        assert opened.status_code == 201 and opened.json()["opening_float"] == "25.00"
        # A session at the desk does not let him sell at the agent's counter.
        r = http.post("/vends", json=sale("other-desk", AGENT_DESK))
        assert (r.status_code, r.json()["reason"]) == (422, "no_open_session")
        assert http.post("/vends", json=sale("in-session")).status_code == 201
        shift = http.get("/sessions/current").json()
        closed = http.post(f"/sessions/{shift['session_id']}/close",
                           json={"counted_cash": "35.00"})
        assert closed.status_code == 200 and closed.json()["status"] == "closed"
        r = http.post("/vends", json=sale("after-close"))
        assert (r.status_code, r.json()["reason"]) == (422, "no_open_session")
    assert centre.agent("Corner Shop").balance == Decimal("100.00")
    assert [v.request_id for v in centre.vends_for_meter(METER)] == ["in-session"]


def test_a_supervisor_sells_without_a_session_but_only_at_bound_stations(
        centre: BillingCentre, env: Seed) -> None:
    with serving(centre) as url, httpx.Client(timeout=60, base_url=url,
                                              headers=env.auth("supervisor")) as http:
        assert http.post("/vends", json=sale("sam-1")).status_code == 201
        free = {"meter_no": METER, "credit": 100, "request_id": "free-1",
                "station": AGENT_DESK, "reason": "outage"}
        assert http.post("/free-issues", json=free).status_code == 403


def test_tokens_expire_and_unbound_tokens_cannot_sell(centre: BillingCentre, env: Seed,
                                                      now: Clock) -> None:
    with serving(centre) as url, httpx.Client(timeout=60, base_url=url) as http:
        admin = env.auth("administrator")
        r = http.post("/tokens", headers=admin, json={
            "operator": "sam", "stations": [STATION], "expires_in_s": 3600})
        assert r.status_code == 201, r.text
        assert r.json()["info"]["stations"] == [STATION]
        short = {"Authorization": f"Bearer {r.json()['token']}"}
        default = http.post("/tokens", headers=admin, json={"operator": "sam"}).json()
        lifetime = (default["info"]["expires_at"], default["info"]["created_at"])
        assert default["info"]["stations"] == []
        unbound = {"Authorization": f"Bearer {default['token']}"}

        assert http.get("/me", headers=short).status_code == 200
        r = http.post("/vends", headers=unbound, json=sale("unbound"))
        assert r.status_code == 403 and "may sell at no station" in r.json()["detail"]
        now.now += timedelta(seconds=3601)
        r = http.get("/me", headers=short)
        assert r.status_code == 401 and "expired" in r.json()["detail"]
        assert http.get("/me", headers=unbound).status_code == 200
        r = http.post("/tokens", headers=admin, json={"operator": "sam", "stations": ["NOPE"]})
        assert r.status_code == 404 and "'NOPE' is not registered" in r.json()["detail"]
        r = http.post("/tokens", headers=admin, json={"operator": "sam", "expires_in_s": 5})
        assert r.status_code == 422 and "expires_in_s" in r.json()["detail"]
    from datetime import datetime
    expires, created = (datetime.fromisoformat(t) for t in lifetime)
    assert expires - created == timedelta(days=90)  # the server's default lifetime


def test_api_replies_cannot_be_framed_and_docs_load_only_their_own_scripts(
        centre: BillingCentre, env: Seed) -> None:
    with serving(centre) as url, httpx.Client(timeout=60, base_url=url) as http:
        for path in ("/health", "/openapi.json", "/meters"):
            r = http.get(path, headers=env.auth("cashier"))
            assert r.headers["x-frame-options"] == "DENY", path
            assert r.headers["x-content-type-options"] == "nosniff", path
            assert r.headers["content-security-policy"] == \
                "default-src 'none'; frame-ancestors 'none'", path
        docs = http.get("/docs")
        policy = docs.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy
        script_src = next(p.split()[1:] for p in policy.split(";")
                          if p.split()[:1] == ["script-src"])
        assert "'unsafe-inline'" not in script_src
        # Swagger UI still loads: its bundle and stylesheet from this server (no CDN) and its
        # inline start-up script.
        assert "'self'" in script_src and "https:" not in policy
        assert re.findall(r'<script src="([^"]+)"', docs.text) == \
            ["/docs-assets/swagger-ui-bundle.js"]
        assert http.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
        assert len([s for s in script_src if s.startswith("'sha256-")]) == 1


def test_cli_creates_a_bound_expiring_token(db: str, centre: BillingCentre, env: Seed) -> None:
    run = CliRunner().invoke(cli, ["billing", "token", "create", "carol", "--by", "ann",
                                   "--station", STATION, "--expires-in-days", "7", "--db", db])
    assert run.exit_code == 0, run.output
    secret = run.stdout.strip().splitlines()[-1]
    holder = centre.token_holder(secret)
    assert holder is not None and holder.stations == (STATION,)
    assert holder.expires_at is not None
    run = CliRunner().invoke(cli, ["billing", "token", "create", "carol", "--by", "ann",
                                   "--station", "NOPE", "--db", db])
    assert run.exit_code != 0 and "'NOPE' is not registered" in run.output
