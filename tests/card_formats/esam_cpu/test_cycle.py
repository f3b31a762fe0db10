"""`rig run --profile dlt645-1p-cpu-card`: the whole prepaid cycle on the CPU-card meter with
its ESAM, balanced, its record naming SM4 in place of SM1, its APDU trace without keys."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from rig.bench.config import BenchConfig
from rig.report import record_schema
from rig.scenarios.prepaid_cycle import PHASES, CycleParams
from rig.scenarios.runner import run_prepaid_cycle

from .conftest import PROFILE


@pytest.mark.bench
def test_the_prepaid_cycle_balances_on_the_cpu_card_meter(tmp_path: Path) -> None:
    config = BenchConfig(profile=PROFILE, time_scale=36000.0)
    run = run_prepaid_cycle(config, params=CycleParams(amount=Decimal("20.00"),
                                                       power_w=Decimal(2000)),
                            run_dir=tmp_path / "run", use_allure=False)
    if run.error is not None:
        raise run.error
    assert [s.name for s in run.record.steps] == PHASES
    assert run.result.verdict == "balanced"  # the centre verified the return-write record
    record = record_schema.TestRecord.model_validate_json(
        (tmp_path / "run" / "record.json").read_text())
    (test,) = record.tests
    assert test.dut is not None
    assert test.dut.meter_model.endswith("(SM4 in place of SM1 (docs/esam.md))")
    lines = (tmp_path / "run" / "apdu-trace.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["card_format"] == "esam-cpu"
    entries = [json.loads(line) for line in lines[1:]]
    meter = [e for e in entries if e["terminal"] == "meter"]
    assert any(e["command"].startswith("04D6") for e in meter)  # return-write with MAC
    assert all(e["command_redacted"] for e in entries if e["command"].startswith("84D4"))
