"""`rig console serve`: one station's console served on its own by the one `rig` command, over
real TCP (uvicorn in a separate process, spoken to with httpx); options it refuses before
serving; and the console's password command, `rig billing operators password`, reads the
password from stdin, never argv. Only the served console needs its own interpreter: the
refusals and the password command run in-process (typer's CliRunner), as the other CLI tests
do (a `rig` interpreter costs about a second of imports each)."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner, Result

from rig.billing import open_billing
from rig.cli.main import app
from tests.station.console.conftest import STATION, login

RIG = [sys.executable, "-m", "rig.cli.main"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rig(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(app, list(args), input=input, env={"COLUMNS": "200"})


@pytest.fixture
def never_served(monkeypatch: pytest.MonkeyPatch) -> None:
    """A console refused before serving must not reach uvicorn (in-process it would serve
    until killed)."""
    def refuse(*args: Any, **kw: Any) -> None:
        raise AssertionError("the console was served despite the options it should refuse")

    monkeypatch.setattr(uvicorn, "run", refuse)


def test_rig_console_serve_serves_one_stations_console(tmp_path: Path, seeded_db: Path) -> None:
    shutil.copyfile(seeded_db, tmp_path / "c.sqlite")
    db = f"sqlite:///{tmp_path / 'c.sqlite'}"
    port = _free_port()
    proc = subprocess.Popen([*RIG, "console", "serve", "--db", db, "--station", STATION,
                             "--port", str(port), "--insecure-cookies"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/login", timeout=60).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "console did not come up"
            time.sleep(0.1)
        with httpx.Client(base_url=url, follow_redirects=True, timeout=60) as http:
            login(http, "carol")  # type: ignore[arg-type]  # httpx, as TestClient is
            assert STATION in http.get("/").text
            big = http.post("/login", content=b"x" * (2 << 20))  # capped before parsing
            assert big.status_code == 413
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "vending console stopped" in stderr and "Traceback" not in stderr


@pytest.mark.usefixtures("never_served")
def test_an_unreadable_writer_key_is_one_line_naming_the_reader(tmp_path: Path,
                                                                 seeded_db: Path) -> None:
    shutil.copyfile(seeded_db, tmp_path / "c.sqlite")
    run = _rig("console", "serve", "--db", f"sqlite:///{tmp_path / 'c.sqlite'}",
               "--station", STATION, "--reader", "Virtual PCD 00 07",
               "--master-key-file", str(tmp_path / "missing.key"), "--port", str(_free_port()))
    assert run.exit_code == 2, run.stderr
    assert "card writer 'Virtual PCD 00 07'" in run.stderr and "missing.key" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.usefixtures("never_served")
def test_bad_card_writer_options_are_one_line_each(tmp_path: Path, seeded_db: Path) -> None:
    """--card-option KEY=VALUE: a malformed pair, and an option no installed card format
    has, stop the console before it serves, in one line naming them."""
    shutil.copyfile(seeded_db, tmp_path / "c.sqlite")
    key = tmp_path / "master.key"
    key.write_text(bytes(range(1, 17)).hex())
    for option, says in (("dialect", "--card-option 'dialect': expected KEY=VALUE"),
                         ("speed=fast", "no installed card format has the option speed")):
        run = _rig("console", "serve", "--db", f"sqlite:///{tmp_path / 'c.sqlite'}",
                   "--station", STATION, "--reader", "Virtual PCD 00 07",
                   "--master-key-file", str(key), "--card-option", option,
                   "--port", str(_free_port()))
        assert run.exit_code == 2, run.stderr
        assert says in run.stderr and "Traceback" not in run.stderr


def test_the_console_password_is_read_from_stdin_not_argv(tmp_path: Path,
                                                          seeded_db: Path) -> None:
    db = tmp_path / "cli.sqlite"
    shutil.copyfile(seeded_db, db)
    url = f"sqlite:///{db}"
    run = _rig("billing", "operators", "password", "carol", "--as", "ada", "--db", url,
               input="brand-new-password\n")
    assert run.exit_code == 0, run.stderr
    assert "brand-new-password" not in run.stdout + run.stderr
    with open_billing(url) as c:
        assert c.authenticate("carol", "brand-new-password") is not None
    run = _rig("billing", "operators", "password", "nobody", "--db", url,
               input="whatever-password\n")
    assert run.exit_code != 0 and "not registered" in run.stderr
