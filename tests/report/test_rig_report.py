"""`rig report RUN_DIR` renders the Allure report with Allure 3 and serves it over HTTP; its
Allure lives in rig's cache folder, so no package.json lands in a checkout or the cwd."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from rig.cli.report import find_allure

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A run folder with real allure-results (from rig's own writer)."""
    from decimal import Decimal

    from rig.report.record import RunRecord
    from rig.report.writer import write_allure

    record = RunRecord("prepaid cycle", identity={"meter_profile": "dlt645-1p-money",
                                                  "station_id": "bench-1"})
    with record.step("buy credit"):
        record.measure("purchase sequence", 1, low=Decimal(1))
    record.close()
    write_allure(record, tmp_path / "run" / "allure-results")
    return tmp_path / "run"


def _needs_allure() -> Path:
    tool = find_allure()
    if tool is None:
        pytest.skip("Allure 3 is not installed (rig report --install puts it in the cache)")
    return tool


def test_report_is_rendered_and_served_over_http(run_dir: Path, tmp_path: Path) -> None:
    _needs_allure()
    proc = subprocess.Popen([sys.executable, "-m", "rig.cli.main", "report", str(run_dir)],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, stdin=subprocess.DEVNULL)
    try:
        url = proc.stdout.readline().strip()  # type: ignore[union-attr]
        assert url.startswith("http://127.0.0.1:"), proc.stderr.read()  # type: ignore[union-attr]
        with urllib.request.urlopen(url, timeout=30) as reply:
            page = reply.read().decode()
        assert reply.status == 200 and "Allure Report" in page
        with urllib.request.urlopen(url + "summary.json", timeout=30) as reply:
            summary = json.loads(reply.read())
        assert summary["stats"]["total"] == 1
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert proc.returncode == 0
    assert (run_dir / "allure-report" / "index.html").is_file()
    for folder in (tmp_path, run_dir, REPO):
        assert not (folder / "package.json").exists()
        assert not (folder / "package-lock.json").exists()


def test_no_serve_prints_the_exact_command_that_serves_it(run_dir: Path,
                                                          tmp_path: Path) -> None:
    _needs_allure()
    done = subprocess.run([sys.executable, "-m", "rig.cli.main", "report", str(run_dir),
                           "--no-serve", "--port", "8123"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    command = done.stdout.strip()
    report = (run_dir / "allure-report").resolve()
    assert command == (f"{sys.executable} -m http.server --bind 127.0.0.1 --directory "
                       f"{report} 8123")
    assert (report / "index.html").is_file()


def test_allure_home_is_a_cache_folder_not_the_repo(tmp_path: Path) -> None:
    from rig.cli.report import allure_home, install_command

    env = {k: v for k, v in os.environ.items() if k not in ("RIG_ALLURE_HOME",)}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    code = ("from rig.cli.report import allure_home, install_command;"
            "print(allure_home()); print(' '.join(install_command()))")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, check=True, cwd=tmp_path)
    home, command = done.stdout.splitlines()
    assert home == str(tmp_path / "cache" / "rig" / "allure")
    assert command == f"npm install --prefix {home} --no-audit --no-fund allure@3"
    assert REPO not in Path(allure_home()).parents and "--prefix" in install_command()
