"""A lab billing centre for tests and benchmarks: `rig billing serve` as a child process on a
database, reached over real TCP, with an administrator's token in a file (never on a command
line or in a log)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from rig.billing import open_billing
from rig.station import loadgen

ADMIN = "lab-admin"
REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Served:
    url: str  # http://127.0.0.1:PORT
    token_file: Path  # an administrator's token, mode 0600


def child_env() -> dict[str, str]:
    """The environment for a child Python: this checkout's `rig` first on the path."""
    paths = [str(REPO), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def operator_token(db_url: str, operator: str) -> str:
    """A fresh API token of `operator` (registered beforehand), minted by the lab
    administrator, who is registered on first use."""
    with open_billing(db_url) as centre:
        if ADMIN not in {o.name for o in centre.operators()}:
            centre.register_operator(ADMIN, "administrator")
        return centre.create_api_token(operator, actor=ADMIN, label="lab").secret


def station_cashiers(db_url: str, stations: list[str]) -> list[str]:
    """One cashier per counter station (``loadgen-<station>``), each with its cashier session
    open there and a token bound to it: what a counter holds to sell over the API."""
    tokens = []
    with open_billing(db_url) as centre:
        if ADMIN not in {o.name for o in centre.operators()}:
            centre.register_operator(ADMIN, "administrator")
        for station in stations:
            name = f"{loadgen.OPERATOR}-{station}"
            centre.register_operator(name, "cashier")
            centre.open_session(name, station)
            tokens.append(centre.create_api_token(name, actor=ADMIN, label="lab",
                                                  stations=[station]).secret)
    return tokens


def admin_token(db_url: str, token_file: Path) -> None:
    """Write a fresh token of the lab administrator to `token_file` (mode 0600)."""
    secret = operator_token(db_url, ADMIN)
    token_file.touch(mode=0o600)
    token_file.write_text(secret + "\n")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served_centre(db_url: str, workdir: Path) -> Iterator[Served]:
    """`rig billing serve --db db_url` on a free loopback port until the block ends."""
    token_file = workdir / "billing.token"
    admin_token(db_url, token_file)
    port = _free_port()
    log_path = workdir / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from rig.cli.main import app; app()", "billing", "serve",
             "--db", db_url, "--port", str(port), "--log-level", "warning"],
            env=child_env(), stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(proc, url, log_path)
        yield Served(url, token_file)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_healthy(proc: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"rig billing serve exited with {proc.returncode}: "
                               f"{log_path.read_text(errors='replace')[-2000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).is_success:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"rig billing serve did not answer {url}/health within 120 s")
