"""The prepaid cycle with remote delivery over DL/T 645 (`--medium remote`) on an ESAM meter
profile: the same scenario as the card's, the vend delivered by open account over the meter's
real pty, its running record read back with the ESAM's MAC and verified by the centre."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from rig.bench.config import BenchConfig
from rig.billing import open_billing
from rig.billing.readback_format import format_for
from rig.errors import RigError
from rig.scenarios.prepaid_cycle import PHASES, CycleParams
from rig.scenarios.runner import run_prepaid_cycle

PROFILES = Path(__file__).parents[1] / "esam" / "profiles"
PROFILE = "dlt645-1p-esam-remote"
METER = "000000001365"


def test_the_prepaid_cycle_delivered_remotely(bench_config: BenchConfig,
                                              tmp_path: Path) -> None:
    if bench_config.kind != "emulated":
        pytest.skip("needs an ESAM meter; a real one runs it with `rig run --medium remote`")
    config = bench_config.model_copy(update={"profile": PROFILE, "profiles_dir": PROFILES,
                                             "time_scale": 14400.0})
    run = run_prepaid_cycle(config, params=CycleParams(amount=Decimal("20.00")),
                            run_dir=tmp_path, medium="remote")
    if run.error is not None:
        raise run.error
    assert [s.name for s in run.record.steps] == PHASES
    assert all(str(s.outcome) == "pass" for s in run.record.steps)
    assert run.result.cutoff_at is not None and run.result.verdict == "balanced"
    measured = {m.name: m.value for s in run.record.steps for m in s.measurements}
    assert measured["readback MAC verified by the centre"] is True
    shown = {s.name: m.value for s in run.record.steps for m in s.measurements
             if m.name == "meter display"}
    assert str(shown[PHASES[4]]).startswith("open account over DL/T 645: purchase #1 applied")
    assert "refused over DL/T 645 as a repeated recharge" in str(shown[PHASES[9]])
    with open_billing(f"sqlite:///{tmp_path / 'billing.sqlite'}") as centre:
        (vend,) = centre.vends_for_meter(METER)
        assert vend.card_serial.startswith("0000") and vend.token is None
        assert str(vend.status) == "confirmed"  # by the MAC-verified remote readback
    with sqlite3.connect(tmp_path / "billing.sqlite") as db:
        (raw_hex,) = db.execute("SELECT raw_hex FROM readbacks ORDER BY id DESC").fetchone()
    assert format_for(bytes.fromhex(raw_hex)).name == "esam-running-v1"  # the meter's own
    assert raw_hex.startswith("6811002b")  # State Grid running information, not rig's record
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["outcome"] == "pass" and "DL/T 645" in report["name"]
    (medium,) = [a for a in run.record.attachments if a.name == "delivery medium"]
    assert "SM4 stands in for the unpublished SM1" in medium.text  # every record says so


def test_a_profile_without_an_esam_has_no_remote_delivery(bench_config: BenchConfig,
                                                         tmp_path: Path) -> None:
    config = bench_config.model_copy(update={"profile": "dlt645-1p-money"})
    run = run_prepaid_cycle(config, run_dir=tmp_path, medium="remote")
    assert isinstance(run.error, RigError) and "has no [esam] section" in str(run.error)
    assert run.record.summary["safe state"].startswith("safe")


def test_the_certification_suite_with_remote_delivery(tmp_path: Path) -> None:
    """The unchanged certification scenarios on the ESAM meter, delivered over DL/T 645:
    a purchase passes end to end; a purchase for another meter is refused over DL/T 645 (its
    remote counterpart); a requirement that truly needs a card is skipped, saying why."""
    done = subprocess.run(
        [sys.executable, "-m", "rig.cli.main", "run", "--suite", "certification",
         "--profile", PROFILE, "--profiles-dir", str(PROFILES), "--medium", "remote",
         "--select", "buy_and_insert or another_meter or forged", "--out", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (run_dir,) = tmp_path.glob("certification-*")
    tests = {t["requirement"]: t for t in
             json.loads((run_dir / "record.json").read_text())["tests"]}
    assert tests["buy and insert"]["outcome"] == "pass"
    another = tests["card for another meter is refused"]
    assert another["outcome"] == "pass"
    measured = {m["name"]: m["value"] for m in another["measurements"]}
    assert measured["last refusal reason (card error code)"] == "11 meter number mismatch"
    assert "identity authentication failed" in measured["meter display"]
    forged = tests["forged mac is refused"]
    assert forged["outcome"] == "skipped"
    assert forged["message"] == ("reading the purchase off a card: not applicable: remote "
                                 "delivery has no card")


def test_remote_delivery_needs_an_esam_said_in_one_line(tmp_path: Path) -> None:
    for extra in ([], ["--suite", "certification"]):
        done = subprocess.run(
            [sys.executable, "-m", "rig.cli.main", "run", "--profile", "dlt645-1p-money",
             "--medium", "remote", "--out", str(tmp_path), *extra],
            cwd=tmp_path, capture_output=True, text=True, timeout=120,
            stdin=subprocess.DEVNULL, env={**os.environ, "COLUMNS": "300"})
        assert done.returncode == 2
        lines = done.stderr.strip().splitlines()
        assert lines == ["error: --medium remote: profile 'dlt645-1p-money' has no [esam] "
                         "section, so its meter has no ESAM to deliver to over DL/T 645 "
                         "(docs/esam.md)"], done.stderr
