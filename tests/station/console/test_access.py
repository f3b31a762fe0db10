"""Attacks on the console's login and sessions, through its real HTTP server (uvicorn on a
loopback port): parallel password guessing, a flood of login names, telling operators apart
by the work a refusal takes, sessions that outlive a password change or a working day, and
framing or script injection (the security headers)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from collections.abc import Iterator

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from rig.billing import BillingCentre, passwords
from rig.station.console import create_console_app
from rig.station.console.sessions import LoginThrottle, SessionStore

from .browser import browser_available, chromium, serve, text
from .conftest import LOGIN_TOKEN, METER, PASSWORDS, STATION


@pytest.fixture
def served(centre: BillingCentre) -> Iterator[tuple[str, object]]:
    app = create_console_app(centre, station=STATION, secure_cookies=False)
    with serve(app) as url:
        yield url, app.state.console


def login_form(client: httpx.Client) -> str:
    token = LOGIN_TOKEN.search(client.get("/login").text)
    assert token is not None
    return token.group(1)


def attempt(client: httpx.Client, name: str, password: str) -> int:
    form = {"name": name, "password": password, "login_token": login_form(client)}
    return client.post("/login", data=form).status_code


def burst(url: str, name: str, guesses: list[str]) -> list[int]:
    """Every guess sent at once (one login form, many connections); their status codes."""
    async def run() -> list[int]:
        async with httpx.AsyncClient(base_url=url, timeout=120,
                                     limits=httpx.Limits(max_connections=len(guesses))) as c:
            token = LOGIN_TOKEN.search((await c.get("/login")).text)
            assert token is not None
            posts = [c.post("/login", data={"name": name, "password": g,
                                            "login_token": token.group(1)})
                     for g in guesses]
            return [r.status_code for r in await asyncio.gather(*posts)]
    return asyncio.run(run())


def test_a_parallel_burst_of_wrong_passwords_is_throttled(served, centre) -> None:
    url, _ = served
    guesses = [f"wrong-guess-{i:03d}" for i in range(200)]
    guesses[150] = PASSWORDS["carol"]  # the right one, late in the burst
    codes = burst(url, "carol", guesses)
    # Only the throttle's five places were ever checked; the rest were refused unchecked.
    assert codes.count(429) >= 195, sorted(set(codes))
    assert codes.count(401) <= 5
    assert codes[150] == 429
    with httpx.Client(timeout=60, base_url=url) as client:
        assert attempt(client, "carol", PASSWORDS["carol"]) == 429  # still locked
    failed = [e for e in centre.audit_log("operator") if e.action == "operator.login_failed"]
    assert len(failed) <= 5


def test_a_flood_of_login_names_is_bounded_and_keeps_a_locked_name_locked(
        centre: BillingCentre) -> None:
    throttle = LoginThrottle(max_failures=3, lockout_s=300, max_names=20)
    app = create_console_app(centre, station=STATION, secure_cookies=False, throttle=throttle)
    with serve(app) as url, httpx.Client(timeout=60, base_url=url) as client:
        assert [attempt(client, "carol", f"guess-{i}-xxxx") for i in range(3)] == [401] * 3
        for i in range(60):
            assert attempt(client, f"nobody-{i:03d}", "some-password") == 401
            assert len(throttle) <= 20
        assert attempt(client, "carol", PASSWORDS["carol"]) == 429  # not evicted


def test_every_refused_login_does_the_same_password_hash_work(
        served, centre: BillingCentre, monkeypatch: pytest.MonkeyPatch) -> None:
    url, _ = served
    centre.register_operator("nopass", "cashier")  # an operator without a console password
    calls: list[int] = []
    real = passwords._kdf

    def counted(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
        calls.append(n)
        return real(password, salt, n, r, p, dklen)

    monkeypatch.setattr(passwords, "_kdf", counted)
    with httpx.Client(timeout=60, base_url=url) as client:
        for name, password in (("nobody", "whatever-1"), ("nopass", "whatever-1"),
                               ("carol", "whatever-1"), ("carol", "")):
            calls.clear()
            assert attempt(client, name, password) == 401, name
            # One scrypt with the production cost, whichever way the login is wrong.
            assert calls == [passwords.N], (name, password, calls)


def test_a_password_change_ends_the_sessions_opened_with_the_old_one(served,
                                                                     centre) -> None:
    url, _ = served
    with (httpx.Client(timeout=60, base_url=url) as carol,
          httpx.Client(timeout=60, base_url=url) as ada):
        assert attempt(carol, "carol", PASSWORDS["carol"]) == 303
        assert carol.get("/").status_code == 200
        assert attempt(ada, "ada", PASSWORDS["ada"]) == 303
        # Changed elsewhere (the CLI, another console): this console's session ends.
        centre.set_password("carol", "carol-new-pass-2")
        r = carol.get("/")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        assert attempt(carol, "carol", PASSWORDS["carol"]) == 401
        assert attempt(carol, "carol", "carol-new-pass-2") == 303
        assert carol.get("/").status_code == 200
        assert ada.get("/").status_code == 200  # other operators stay logged in


def test_a_busy_session_still_ends_at_its_absolute_lifetime(centre: BillingCentre) -> None:
    now = [1000.0]
    app = create_console_app(centre, station=STATION, secure_cookies=False)
    app.state.console.store = SessionStore(idle_timeout_s=3600, max_age_s=8 * 3600,
                                           clock=lambda: now[0])
    with serve(app) as url, httpx.Client(timeout=60, base_url=url) as client:
        assert attempt(client, "carol", PASSWORDS["carol"]) == 303
        for _ in range(15):  # used every half hour for seven and a half hours
            now[0] += 1800
            assert client.get("/").status_code == 200
        now[0] += 1801
        r = client.get("/")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")


def _sha256_sources(policy: str, directive: str) -> list[str]:
    """The sources of ``directive`` (none when absent: ``default-src 'none'`` then rules)."""
    parts = [p.split()[1:] for p in policy.split(";") if p.split()[:1] == [directive]]
    return parts[0] if parts else []


def test_pages_cannot_be_framed_and_run_only_their_own_scripts(served) -> None:
    url, _ = served
    with httpx.Client(timeout=60, base_url=url) as client:
        assert attempt(client, "carol", PASSWORDS["carol"]) == 303
        for path in ("/login", "/", "/session", "/nowhere"):
            r = client.get(path)
            assert r.headers["x-frame-options"] == "DENY", path
            assert r.headers["x-content-type-options"] == "nosniff", path
            policy = r.headers["content-security-policy"]
            assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
            scripts = _sha256_sources(policy, "script-src")
            assert "'unsafe-inline'" not in scripts, path
            inline = re.findall(r"<script>(.*?)</script>", r.text, re.DOTALL)
            wanted = {"'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest())
                      .decode() + "'" for s in inline}
            assert wanted <= set(scripts), path  # the page's own script still runs


@pytest.mark.skipif(not browser_available(), reason="needs Debian's chromium + chromium-driver")
def test_the_consoles_own_script_still_runs_under_its_policy(served) -> None:
    url, _ = served
    with chromium() as d:
        d.get(f"{url}/login")
        d.find_element(By.ID, "name").send_keys("carol")
        d.find_element(By.ID, "password").send_keys(PASSWORDS["carol"], Keys.ENTER)
        WebDriverWait(d, 30).until(lambda d: "Good day, carol" in text(d))
        d.get(f"{url}/meters/{METER}")
        WebDriverWait(d, 30).until(lambda d: d.find_elements(By.ID, "readback"))
        # Keep the page: a listener added after the page's own cancels the navigation, so the
        # page script's effect (the busy button) can be looked at.
        d.execute_script("document.addEventListener('submit', e => e.preventDefault());")
        d.find_element(By.ID, "readback").click()
        button = d.find_element(By.ID, "readback")
        WebDriverWait(d, 10).until(lambda _: button.get_attribute("disabled") is not None)
        assert button.text == "Reading card…"
