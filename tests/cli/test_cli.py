"""The `rig` command as a user runs it: exit codes, what it prints, what it writes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

RIG = [sys.executable, "-m", "rig.cli.main"]


def rig(*args: str, cwd: Path, env: dict[str, str] | None = None,
        timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RIG, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL,
                          env={**os.environ, **(env or {})})


def test_main_job_runs_a_full_cycle_and_writes_a_report(tmp_path: Path) -> None:
    done = rig("run", "--time-scale", "72000", "--out", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for words in ("credit bought", "energy consumed", "alarm 1 at", "cut-off at",
                  "reconciliation", "balanced", "report:"):
        assert words in done.stderr
    (run_dir,) = tmp_path.glob("prepaid-cycle-*")
    report = json.loads((run_dir / "report.json").read_text())
    assert report["outcome"] == "pass"
    assert report["summary"]["credit bought"] == "20.00 CNY"
    assert (run_dir / "report.html").read_text().count("<h3>") == 12
    assert list((run_dir / "allure-results").glob("*-attachment.png"))


def test_bad_amount_and_unknown_profile_are_refused(tmp_path: Path) -> None:
    done = rig("run", "--amount", "twelve", "--out", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 2
    assert "error" in done.stderr
    done = rig("run", "--profile", "nope", "--out", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 2
    assert "'nope' not found" in done.stderr
    assert not list(tmp_path.glob("prepaid-cycle-*"))


def test_certification_suite_writes_junit_allure_and_summary(tmp_path: Path) -> None:
    done = rig("run", "--suite", "certification", "--profile", "dlt645-1p-money",
               "--out", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    (run_dir,) = tmp_path.glob("certification-*")
    junit = (run_dir / "junit.xml").read_text()
    assert 'failures="0"' in junit
    assert 'property name="station_id"' in junit
    assert list((run_dir / "allure-results").glob("*-result.json"))
    summary = (run_dir / "certification.html").read_text()
    # One row per requirement: every one that ran passed, skipped ones (capabilities this
    # meter lacks) are listed but not counted as passed.
    suite = re.search(r'<testsuite[^>]* skipped="(\d+)"[^>]* tests="(\d+)"', junit)
    assert suite is not None, junit[:500]
    skipped, tests = int(suite[1]), int(suite[2])
    assert f"{tests - skipped}/{tests} passed" in summary
    assert tests - skipped >= 4


def test_report_says_how_to_get_allure_when_missing(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[2]
    if (repo / "node_modules/.bin/allure").exists():
        pytest.skip("Allure is installed in this checkout")
    results = tmp_path / "allure-results"
    results.mkdir()
    (results / "x-result.json").write_text("{}")
    done = rig("report", str(tmp_path), cwd=tmp_path, env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 2
    assert "npm install allure@3" in done.stderr


def test_profiles_lists_and_validates(tmp_path: Path) -> None:
    done = rig("profiles", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "dlt645-1p-money" in done.stderr
