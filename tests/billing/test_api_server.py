"""The REST API over real TCP: a uvicorn server in-process, and `rig billing serve` as a
separate process, both spoken to with httpx."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from rig.billing import BillingCentre, open_billing
from tests.billing.api_helpers import METER, STATION, Seed, clock, seed
from tests.billing.live_server import serving


@pytest.fixture
def centre(billing_url: str) -> Iterator[BillingCentre]:
    """On SQLite and on PostgreSQL (tests/billing/conftest.py)."""
    c = open_billing(billing_url, clock=clock())
    yield c
    c.close()


# Six requests at once queue for one SQLite write lock: httpx's default 5 s read timeout was
# exceeded at load average 10-20 (ReadTimeout, the [sqlite] vend retries): not what is judged.
LOADED = 60.0


def test_concurrent_retries_of_one_vend_over_http_make_one_vend(centre: BillingCentre) -> None:
    env = seed(centre)
    body = {"meter_no": METER, "amount": "10.00", "request_id": "same", "station": STATION}
    with (serving(centre) as url,
          httpx.Client(base_url=url, headers=env.auth("cashier"), timeout=LOADED) as http,
          ThreadPoolExecutor(6) as pool):
        replies = list(pool.map(lambda _: http.post("/vends", json=body), range(6)))
    assert {r.status_code for r in replies} == {201}, [r.json() for r in replies]
    assert {r.json()["vend_id"] for r in replies} == {replies[0].json()["vend_id"]}
    assert [v.sequence for v in centre.vends_for_meter(METER)] == [1]


def test_concurrent_retries_of_one_free_issue_make_one(centre: BillingCentre) -> None:
    env = seed(centre)
    body = {"meter_no": METER, "credit": 500, "request_id": "free-1", "station": STATION,
            "reason": "outage compensation"}
    with (serving(centre) as url,
          httpx.Client(base_url=url, headers=env.auth("supervisor"),
                       timeout=LOADED) as http,
          ThreadPoolExecutor(6) as pool):
        replies = list(pool.map(lambda _: http.post("/free-issues", json=body), range(6)))
    assert {r.status_code for r in replies} == {201}, [r.json() for r in replies]
    assert {r.json()["vend_id"] for r in replies} == {replies[0].json()["vend_id"]}
    assert [(v.sequence, v.kind) for v in centre.vends_for_meter(METER)] == [(1, "free")]


def test_concurrent_different_vends_sell_once(centre: BillingCentre) -> None:
    env = seed(centre)
    with serving(centre) as url, \
            httpx.Client(base_url=url, headers=env.auth("cashier"), timeout=LOADED) as http:
        def buy(i: int) -> httpx.Response:
            return http.post("/vends", json={"meter_no": METER, "amount": "10.00",
                                             "request_id": f"desk-{i}", "station": STATION})

        with ThreadPoolExecutor(6) as pool:
            replies = list(pool.map(buy, range(6)))
    codes = sorted(r.status_code for r in replies)
    assert codes == [201, 409, 409, 409, 409, 409]
    assert {r.json()["reason"] for r in replies if r.status_code == 409} == {"unapplied_purchase"}
    assert [v.sequence for v in centre.vends_for_meter(METER)] == [1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_rig_billing_serve_is_a_real_server(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'served.sqlite'}"
    with open_billing(db) as c:
        env: Seed = seed(c)
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "rig.cli.main", "billing", "serve", "--db", db,
         "--port", str(port), "--log-level", "info", "--console-station", STATION,
         "--insecure-cookies"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "COLUMNS": "200"})
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=60).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.1)
        with httpx.Client(timeout=60, base_url=url) as http:
            sold = http.post("/vends", headers=env.auth("cashier"), json={
                "meter_no": METER, "amount": "20.00", "request_id": "tcp-1", "station": STATION})
            assert sold.status_code == 201, sold.text
            assert sold.json()["credit"] == 2000
            denied = http.post("/tariffs", headers=env.auth("cashier"), json={
                "code": "RES", "price_per_kwh": "0.3000", "effective_from": "2024-03-01"})
            assert denied.status_code == 403 and "cashier" in denied.json()["detail"]
            spec = http.get("/openapi.json").json()
            assert spec["info"]["title"] == "rig billing centre"
            login = http.get("/console/login")  # the vending console, beside the API
            assert login.status_code == 200 and 'type="password"' in login.text
    finally:
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert '"POST /vends HTTP/1.1" 201' in stdout  # the access log is on ...
    for secret in env.tokens.values():
        assert secret not in stdout + stderr  # ... and names no token
    assert "billing centre API stopped" in stderr
    with open_billing(db) as c:
        assert [v.request_id for v in c.vends_for_meter(METER)] == ["tcp-1"]
