"""The walking skeleton end to end: one full prepaid cycle on the bench under test.

By default that is an emulated bench reached through a pty, a VISA socket and a PC/SC
reader; with `--bench lab.toml` the same test certifies a real meter.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from rig.bench.config import BenchConfig
from rig.card.trace import load_trace
from rig.profile import available_profiles
from rig.report import record_schema
from rig.scenarios.prepaid_cycle import PHASES, CycleParams
from rig.scenarios.runner import run_prepaid_cycle
from rig.sim.card_replay import replay_against_card


@pytest.mark.bench
def test_full_prepaid_cycle(bench_config: BenchConfig, tmp_path: Path) -> None:
    params = CycleParams(amount=Decimal("20.00"), power_w=Decimal(2000))
    run = run_prepaid_cycle(bench_config, params=params, run_dir=tmp_path, use_allure=True)
    if run.error is not None:
        raise run.error

    result = run.result
    assert [s.name for s in run.record.steps] == PHASES
    if bench_config.kind == "emulated":  # the station printed the sale (docs/printer.md)
        buy = run.record.steps[PHASES.index("buy credit")]
        paper = [a for a in buy.attachments if a.name.startswith("receipt of vend")]
        assert [a.mime for a in paper] == ["text/plain", "image/png"], paper
        assert "PREPAID ENERGY RECEIPT" in paper[0].text and paper[1].data
    assert all(str(s.outcome) == "pass" for s in run.record.steps)
    assert result.credit_bought == Decimal("20.00")
    # Everything bought was consumed: 20.00 CNY at 0.5283 CNY/kWh, to the Wh.
    expected_kwh = (Decimal("20.00") / params.price_per_kwh).quantize(Decimal("0.001"))
    assert abs(result.energy_consumed_kwh - expected_kwh) <= Decimal("0.001")
    assert result.load_on_at < result.alarm1_at <= result.alarm2_at <= result.cutoff_at
    assert result.verdict == "balanced"

    report = json.loads((tmp_path / "report.json").read_text())
    assert report["outcome"] == "pass"
    assert report["identity"]["meter_profile"] == bench_config.profile
    assert (tmp_path / "report.html").is_file()
    assert list((tmp_path / "allure-results").glob("*-result.json"))

    # The test record: every field, and predicted alarm times judged against the profile's
    # timing tolerance (a limit, not just a number).
    record = record_schema.TestRecord.model_validate_json(
        (tmp_path / "record.json").read_text())
    (test,) = record.tests
    assert test.dut is not None and test.instruments is not None and test.billing is not None
    assert test.dut.profile == bench_config.profile and len(test.dut.profile_sha256) == 64
    assert test.instruments.card_reader.atr and test.instruments.load.idn
    assert test.billing.kind == "sqlite" and record.operator
    alarms = {m.name: m for m in test.measurements if m.name.endswith("observed after")}
    assert set(alarms) == {"alarm 1 observed after", "alarm 2 observed after"}
    for m in alarms.values():
        assert isinstance(m.limit, record_schema.RangeLimit) and m.verdict == "pass", m
        assert "declared" in m.description
    page = (tmp_path / "report.html").read_text()
    assert "profile SHA-256" in page and test.dut.profile_sha256 in page
    assert all((tmp_path / e.file).is_file() for e in test.evidence)
    assert {"meter serial transcript", "card APDU trace (secrets redacted)", "load SCPI log",
            "reconciliation evidence", "power, credit and relay over time"} <= \
        {e.name for e in test.evidence}
    # The run's card session, saved as a trace, replays clean against a blank card of its
    # format: a golden trace to check another card (or meter firmware) against.
    trace = load_trace(tmp_path / "apdu-trace.jsonl")
    assert trace.card_format == "rigpp" and trace.entries
    if bench_config.kind == "emulated" and not bench_config.sim_control:
        assert any(e.terminal == "meter" for e in trace.entries)  # the meter's slot too
        report = replay_against_card(trace)
        assert report.clean and report.skipped_secret > 0, report.to_text()


@pytest.mark.bench
def test_cycle_failure_leaves_bench_safe_and_reports(bench_config: BenchConfig,
                                                     tmp_path: Path) -> None:
    """A purchase the billing centre refuses ends the run with an error and a report."""
    params = CycleParams(amount=Decimal("0.10"))  # below the vend minimum
    run = run_prepaid_cycle(bench_config, params=params, run_dir=tmp_path)
    assert run.error is not None
    assert "minimum" in str(run.error)
    steps = {s.name: str(s.outcome) for s in run.record.steps}
    assert steps["buy credit"] == "error"
    assert steps["load on: consume to alarm"] == "pending"
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["outcome"] == "error"
    assert "minimum" in report["summary"]["error"]


@pytest.mark.parametrize("profile", available_profiles())
def test_prepaid_cycle_on_every_profile(bench_config: BenchConfig, profile: str,
                                        tmp_path: Path) -> None:
    """The main job works for every meter model rig ships a profile for: alarm-2 relay trips,
    automatic emergency credit, overdraft and friendly periods all land where predicted."""
    if bench_config.kind != "emulated":
        pytest.skip("a real bench has one meter; its profile runs in test_full_prepaid_cycle")
    config = bench_config.model_copy(update={"profile": profile, "time_scale": 14400.0})
    run = run_prepaid_cycle(config, params=CycleParams(amount=Decimal("20.00")),
                            run_dir=tmp_path)
    if run.error is not None:
        raise run.error
    assert all(str(s.outcome) == "pass" for s in run.record.steps)
    assert run.result.cutoff_at is not None and run.result.verdict == "balanced"


def test_prepaid_cycle_on_memory_card_with_omnikey_writer(bench_config: BenchConfig,
                                                          tmp_path: Path) -> None:
    """An OMNIKEY writer cannot issue an SLE 4442 card: the cycle issues it through the ACS
    issuing writer the bench names and sells through the OMNIKEY one."""
    if bench_config.kind != "emulated":
        pytest.skip("the emulated memory-card meter and its card")
    card = bench_config.card.model_copy(update={"dialect": "omnikey", "issue_dialect": "acs"})
    config = bench_config.model_copy(update={"profile": "dlt645-1p-memory-card",
                                             "time_scale": 14400.0, "card": card})
    run = run_prepaid_cycle(config, params=CycleParams(amount=Decimal("20.00")),
                            run_dir=tmp_path)
    if run.error is not None:
        raise run.error
    assert run.result.cutoff_at is not None and run.result.verdict == "balanced"
    trace = [json.loads(line) for line in
             (tmp_path / "apdu-trace.jsonl").read_text("utf-8").splitlines()[1:]]
    sent = {(e["terminal"].rpartition("[")[2].rstrip("]"), e["command"][:4].upper())
            for e in trace if "command" in e}
    assert ("acs", "FFA4") in sent  # issued through the ACS writer
    assert ("omnikey", "FFD6") in sent  # the vend written through the OMNIKEY one
