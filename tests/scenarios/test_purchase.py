"""The cycle's purchase suits the profile: the meter starts above alarm 1, so each alarm is seen
in turn (the 3-phase profile's alarm 2 is 20 CNY: the old fixed 20.00 fired both at once)."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from rig.profile import available_profiles, load_profile
from rig.scenarios.prepaid_cycle import CycleParams
from rig.scenarios.purchase import credit_bought, purchase_warning, suitable_purchase

PRICE = CycleParams().price_per_kwh


@pytest.mark.parametrize("name", available_profiles())
def test_the_default_purchase_starts_above_alarm1_below_hoarding(name: str) -> None:
    profile = load_profile(name)
    amount = suitable_purchase(profile, PRICE)
    credit = credit_bought(profile, amount, PRICE)
    assert profile.thresholds.alarm1 < credit <= profile.thresholds.hoarding_limit
    assert purchase_warning(profile, amount, PRICE) is None


def test_a_purchase_at_an_alarm_level_is_warned_about() -> None:
    three = load_profile("dlt645-3p-power-limit")
    assert "at or below alarm 2 (20.00 CNY)" in str(purchase_warning(three, Decimal("20.00"),
                                                                     PRICE))
    assert "at or below alarm 1 (50.00 CNY)" in str(purchase_warning(three, Decimal("50.00"),
                                                                     PRICE))
    assert "hoarding limit" in str(purchase_warning(three, Decimal("100000.00"), PRICE))


def test_rig_run_on_the_3_phase_profile_sees_both_alarms_in_turn(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rig.cli.main", "run", "--profile", "dlt645-3p-power-limit",
         "--time-scale", "360000", "--out", str(tmp_path)], capture_output=True, text=True,
        timeout=300, stdin=subprocess.DEVNULL, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "warning" not in done.stderr
    (run_dir,) = tmp_path.glob("prepaid-cycle-*")
    summary = json.loads((run_dir / "report.json").read_text())["summary"]
    assert summary["credit bought"] == "100.00 CNY"
    hours = [float(summary[k].split("+ ")[1].split(" h")[0])
             for k in ("alarm 1 at", "alarm 2 (pre-trip) at", "cut-off at")]
    assert hours[0] < hours[1] < hours[2], summary


def test_rig_run_warns_about_a_purchase_at_alarm_2(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rig.cli.main", "run", "--profile", "dlt645-3p-power-limit",
         "--amount", "20", "--time-scale", "360000", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL, cwd=tmp_path)
    assert "warning: a purchase of 20 is at or below alarm 2" in " ".join(done.stderr.split())
