"""The prepaid cycle with an STS token instead of a card, on the keypad meter profile: the
centre sells a token, the emulated meter takes it on its keypad, runs to the alarms and the
cut-off, and its registers read over the serial port (a real pty) reconcile at the centre."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from rig.bench.config import BenchConfig, BillingSettings
from rig.billing import open_billing
from rig.errors import RigError
from rig.scenarios.prepaid_cycle import CycleParams
from rig.scenarios.runner import run_prepaid_cycle
from rig.scenarios.token_cycle import TOKEN_PHASES
from tests.billing.live_server import serving

PROFILE = "iec62056-1p-energy"


def test_the_prepaid_cycle_with_a_token(bench_config: BenchConfig, tmp_path: Path) -> None:
    if bench_config.kind != "emulated":
        pytest.skip("needs a keypad meter; a real one runs it with `rig run --medium token`")
    config = bench_config.model_copy(update={"profile": PROFILE, "time_scale": 14400.0})
    run = run_prepaid_cycle(config, params=CycleParams(amount=Decimal("20.00")),
                            run_dir=tmp_path, medium="token")
    if run.error is not None:
        raise run.error
    assert [s.name for s in run.record.steps] == TOKEN_PHASES
    assert all(str(s.outcome) == "pass" for s in run.record.steps)
    # 20.00 at 0.5283/kWh buys 37.857 kWh; the token carries whole 0.1 kWh steps: 37.8
    assert run.result.credit_bought == Decimal("37.800")
    assert run.result.cutoff_at is not None and run.result.verdict == "balanced"
    measured = {m.name: m.value for s in run.record.steps for m in s.measurements}
    assert measured["meter display"] == "Accept"
    assert measured["reconcile: readback_source"] == "serial: not MAC-protected"
    assert measured["readback source"] == "serial"
    with open_billing(f"sqlite:///{tmp_path / 'billing.sqlite'}") as centre:
        (vend,) = centre.vends_for_meter("000010020001")  # the profile's meter number
        assert vend.token is not None and vend.card_serial == ""
        assert str(vend.status) == "confirmed"  # by the serial readback
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["outcome"] == "pass" and "STS token" in report["name"]


def test_a_profile_without_sts_takes_no_token(bench_config: BenchConfig, tmp_path: Path) -> None:
    config = bench_config.model_copy(update={"profile": "dlt645-1p-money"})
    run = run_prepaid_cycle(config, run_dir=tmp_path, medium="token")
    assert isinstance(run.error, RigError) and "has no [sts] section" in str(run.error)
    assert run.record.summary["safe state"].startswith("safe")


def test_the_token_cycle_against_a_served_billing_centre(bench_config: BenchConfig,
                                                         tmp_path: Path) -> None:
    """`rig run --medium token` against a served centre (the bench's `[billing] url`, or
    `--db http://…`): the served centre's client registers the STS identity, sells the token
    and takes the serial readback over the API."""
    if bench_config.kind != "emulated":
        pytest.skip("needs a keypad meter; a real one runs it with `rig run --medium token`")
    db = f"sqlite:///{tmp_path / 'served.sqlite'}"
    with open_billing(db) as centre:
        centre.register_operator("bench-admin", "administrator")
        token_file = tmp_path / "billing.token"
        token_file.write_text(centre.create_api_token("bench-admin", actor="bench-admin").secret)
        with serving(centre) as url:
            # The served centre runs on the wall clock; the emulated bench's fast clock starts
            # 60 days earlier (a loaded machine's slow start runs it days ahead at 14400×), so
            # the tariff it registers is in effect when it sells.
            config = bench_config.model_copy(update={
                "profile": PROFILE, "time_scale": 14400.0,
                "epoch": datetime.now(UTC) - timedelta(days=60),
                "billing": BillingSettings(url=url, token_file=token_file)})
            run = run_prepaid_cycle(config, params=CycleParams(amount=Decimal("20.00")),
                                    run_dir=tmp_path / "run", medium="token")
        if run.error is not None:
            raise run.error
        assert all(str(s.outcome) == "pass" for s in run.record.steps), [
            (s.name, str(s.outcome)) for s in run.record.steps]
        assert run.result.credit_bought == Decimal("37.800") and run.result.verdict == "balanced"
        # everything happened at the served centre, as the bench's own cashier
        assert centre.sts_identity("000010020001") is not None
        (vend,) = centre.vends_for_meter("000010020001")
        assert vend.token is not None and str(vend.status) == "confirmed"
        rec = centre.latest_reconciliation("000010020001")
        assert rec is not None and rec.evidence["source"]["kind"] == "serial"
        assert centre.verify_audit_chain().ok


def test_the_prepaid_cycle_with_a_currency_token(bench_config: BenchConfig,
                                                 tmp_path: Path) -> None:
    """The money meter's cycle: a currency token (one step a cent) typed on its keypad, the
    alarms and the cut-off in money, its registers read over DL/T 645 and reconciled."""
    if bench_config.kind != "emulated":
        pytest.skip("needs a keypad meter; a real one runs it with `rig run --medium token`")
    config = bench_config.model_copy(update={"profile": "dlt645-1p-money-sts"})
    run = run_prepaid_cycle(config, params=CycleParams(amount=Decimal("20.00")),
                            run_dir=tmp_path, medium="token")
    if run.error is not None:
        raise run.error
    assert all(str(s.outcome) == "pass" for s in run.record.steps), [
        (s.name, str(s.outcome)) for s in run.record.steps]
    assert run.result.credit_bought == Decimal("20.00")  # 2000 steps: carried exactly
    assert run.result.cutoff_at is not None and run.result.verdict == "balanced"
    with open_billing(f"sqlite:///{tmp_path / 'billing.sqlite'}") as centre:
        (token,) = [t for t in centre.sts_tokens("000000001005") if t.kind == "credit"]
        assert token.value == "20.00"
