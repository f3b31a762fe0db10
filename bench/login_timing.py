"""How long the console takes to refuse a login: an unknown name, an operator without a
console password, a wrong password — and the right one for comparison.

Run from the repo root: ``.venv/bin/python bench/login_timing.py [N]`` (N logins per case,
default 20). The console runs under uvicorn on a loopback port (the real HTTP server) over a
scratch SQLite database; each case is tried in turn, round-robin, so all see the same machine
state, with a fresh throttle per attempt (a lock-out would answer without checking anything).
Prints the median and 10/90th percentiles in milliseconds per case and ends with one line of
flat JSON. Every refusal runs the scrypt KDF once, so the cases should differ by little more
than the audit write a known name costs.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rig.billing import open_billing
from rig.station.console import create_console_app
from rig.station.console.sessions import LoginThrottle
from tests.station.console.browser import serve

LOGIN_TOKEN = re.compile(r'name="login_token" value="([^"]+)"')
CASES = {  # name, password, expected status
    "unknown name": ("nobody", "some-password-1", 401),
    "no console password": ("nopass", "some-password-1", 401),
    "wrong password": ("carol", "some-password-1", 401),
    "right password": ("carol", "carol-password-1", 303),
}


def main(n: int) -> dict[str, float]:
    warnings.filterwarnings("ignore", message=".*Decimal.*")
    with tempfile.TemporaryDirectory() as tmp:
        centre = open_billing(f"sqlite:///{tmp}/login.sqlite")
        centre.register_station("DESK-1")
        centre.register_operator("carol", "cashier")
        centre.register_operator("nopass", "cashier")
        centre.set_password("carol", "carol-password-1")
        app = create_console_app(centre, station="DESK-1", secure_cookies=False)
        times: dict[str, list[float]] = {case: [] for case in CASES}
        with serve(app) as url, httpx.Client(base_url=url) as client:
            for _ in range(n):
                for case, (name, password, expected) in CASES.items():
                    app.state.console.throttle = LoginThrottle()
                    client.cookies.clear()
                    token = LOGIN_TOKEN.search(client.get("/login").text)
                    assert token is not None
                    form = {"name": name, "password": password, "login_token": token.group(1)}
                    start = time.perf_counter()
                    status = client.post("/login", data=form).status_code
                    times[case].append((time.perf_counter() - start) * 1000)
                    if status != expected:
                        raise RuntimeError(f"{case}: HTTP {status}, expected {expected}")
        centre.close()
    figures: dict[str, float] = {}
    print(f"{'case':<22}{'median ms':>11}{'p10':>8}{'p90':>8}")
    for case, samples in times.items():
        deciles = statistics.quantiles(samples, n=10)
        median = statistics.median(samples)
        print(f"{case:<22}{median:>11.1f}{deciles[0]:>8.1f}{deciles[-1]:>8.1f}")
        figures[f"{case.replace(' ', '_')}_ms"] = round(median, 1)
    return figures


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)))
