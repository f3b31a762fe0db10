"""The `rig` command as a user runs it: exit codes, what it prints, what it writes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from rig.card.keys import MasterKey

RIG = [sys.executable, "-m", "rig.cli.main"]


def rig(*args: str, cwd: Path, env: dict[str, str] | None = None,
        timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RIG, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL,
                          env={**os.environ, **(env or {})})


# An operator's master key (not the public lab key), to find it wherever it might leak.
OPERATOR_KEY = "5a3c96e10f4b28d7c1e07a5b3f9d2468"


def key_forms(key: bytes) -> list[bytes]:
    """How a key (its first 8 bytes: enough to identify it) could appear in a file or log."""
    head = key[:8]
    return [head, head.hex().encode(), head.hex().upper().encode(),
            head.hex(" ").encode(), head.hex(" ").upper().encode()]


def assert_no_key_material(run_dir: Path, output: str) -> None:
    """Neither the master key nor any key derived from it (meter, card, readback) is in any
    file of the run (report, allure results, billing database) or in what the run printed."""
    import sqlite3

    from rig.card.keys import MasterKey, derive_card_key, derive_meter_key, derive_readback_key

    master = MasterKey.from_hex(OPERATOR_KEY)
    report = json.loads((run_dir / "report.json").read_text())
    meter_no = report["identity"]["meter_address"]
    with sqlite3.connect(run_dir / "billing.sqlite") as db:
        serials = [row[0] for row in db.execute("SELECT card_serial FROM cards")]
    assert serials
    keys = {"master": master.secret_bytes()}
    for rev in range(4):
        meter_key = derive_meter_key(master, meter_no, rev)
        keys[f"meter key rev {rev}"] = meter_key
        for serial in serials:
            keys[f"card key {serial} rev {rev}"] = derive_card_key(master, serial, rev)
            keys[f"readback key {serial} rev {rev}"] = derive_readback_key(meter_key, serial)
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert len(files) > 4
    for name, key in keys.items():
        for form in key_forms(key):
            assert form.decode("latin-1") not in output, name
            for path in files:
                assert form not in path.read_bytes(), f"{name} in {path.name}"


def test_main_job_runs_a_full_cycle_and_writes_a_report(tmp_path: Path) -> None:
    done = rig("run", "--time-scale", "72000", "--out", str(tmp_path), cwd=tmp_path,
               env={"RIG_MASTER_KEY": OPERATOR_KEY})
    assert done.returncode == 0, done.stderr
    for words in ("credit bought", "energy consumed", "alarm 1 at", "cut-off at",
                  "reconciliation", "balanced", "report:"):
        assert words in done.stdout  # the result is captured by `rig run > out.txt`
    (run_dir,) = tmp_path.glob("prepaid-cycle-*")
    report = json.loads((run_dir / "report.json").read_text())
    assert report["outcome"] == "pass"
    assert report["summary"]["credit bought"] == "20.00 CNY"
    assert report["identity"]["master_key"] == MasterKey.from_hex(OPERATOR_KEY).key_id
    assert (run_dir / "report.html").read_text().count("<h3>") == 12
    assert list((run_dir / "allure-results").glob("*-attachment.png"))
    assert "card APDU trace" in (run_dir / "report.html").read_text()
    assert_no_key_material(run_dir, done.stdout + done.stderr)
    # The run's own ledger has a keyed, anchored audit chain, verifiable afterwards.
    audit = rig("billing", "audit", "verify", "--db", f"sqlite:///{run_dir / 'billing.sqlite'}",
                "--audit-key-file", str(run_dir / "audit.key"),
                "--audit-anchor", str(run_dir / "audit-anchor.jsonl"), cwd=tmp_path)
    assert audit.returncode == 0 and "0 legacy" in audit.stdout, audit.stdout + audit.stderr
    assert (run_dir / "audit.key").stat().st_mode & 0o077 == 0


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
    # One row per requirement: every one that applies to this model passed; those needing a
    # capability it lacks (friendly periods, power limit, the six STS keypad requirements)
    # are listed as not applicable.
    suite = re.search(r'<testsuite[^>]* skipped="(\d+)"[^>]* tests="(\d+)"', junit)
    assert suite is not None, junit[:500]
    skipped, tests = int(suite[1]), int(suite[2])
    ran = tests - skipped
    assert f"{ran}/{ran} passed, {skipped} not applicable (skipped)" in summary
    assert ran >= 10 and skipped == 8


def test_report_says_how_to_get_allure_when_missing(tmp_path: Path) -> None:
    home = tmp_path / "no-allure-here"
    results = tmp_path / "allure-results"
    results.mkdir()
    (results / "x-result.json").write_text("{}")
    done = rig("report", str(tmp_path), cwd=tmp_path,
               env={"PATH": "/usr/bin:/bin", "RIG_ALLURE_HOME": str(home), "COLUMNS": "1000"})
    assert done.returncode == 2
    message = " ".join(done.stderr.split())
    assert f"npm install --prefix {home} --no-audit --no-fund allure@3" in message
    assert f"rig report {tmp_path} --install" in message
    assert not (tmp_path / "package.json").exists() and not home.exists()


def test_profiles_lists_and_validates(tmp_path: Path) -> None:
    done = rig("profiles", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "dlt645-1p-money" in done.stderr
