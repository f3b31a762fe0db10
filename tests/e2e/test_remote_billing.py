"""The prepaid cycle with the billing centre on the other end of HTTP: the bench's steps
drive a served billing centre through RemoteBillingCentre exactly as they drive a local one."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from rig.bench.config import BillingSettings
from rig.billing import VendStatus, open_billing
from rig.billing.connect import connect_billing
from rig.billing.remote import RemoteBillingCentre
from rig.report.record import RunRecord
from rig.scenarios.prepaid_cycle import PHASES, CycleParams, PrepaidCycle
from rig.scenarios.steps import OPERATOR
from tests.billing.live_server import serving


@pytest.mark.bench
def test_prepaid_cycle_against_a_served_billing_centre(bench, tmp_path: Path) -> None:
    # The served centre runs on the bench clock, as a local one would in the runner.
    with open_billing(f"sqlite:///{tmp_path / 'served.sqlite'}",
                      clock=bench.clock.now) as centre:
        centre.register_operator("bench-admin", "administrator")
        token = centre.create_api_token("bench-admin", actor="bench-admin", label="bench").secret
        record = RunRecord("prepaid cycle, remote billing", identity=bench.identity,
                           phases=PHASES)
        token_file = tmp_path / "billing.token"
        token_file.write_text(token)
        with serving(centre) as url:
            # The bench names the served centre by URL and a token file, as a lab TOML would.
            settings = BillingSettings(url=url, token_file=token_file)
            remote = connect_billing(settings.url or "", token_file=settings.token_file)
            assert isinstance(remote, RemoteBillingCentre)
            cycle = PrepaidCycle(bench, remote, record,
                                 CycleParams(amount=Decimal("20.00"), power_w=Decimal(2000)))
            try:
                result = cycle.run()
            finally:
                record.close()
                remote.close()
        assert all(str(s.outcome) == "pass" for s in record.steps), [
            (s.name, str(s.outcome)) for s in record.steps]
        assert result.verdict == "balanced"
        assert result.credit_bought == Decimal("20.00")
        (vend,) = centre.vends_for_meter(bench.profile.protocol.address)
        assert (vend.status, vend.operator, vend.amount) == (
            VendStatus.CONFIRMED, OPERATOR, Decimal("20.00"))
        rec = centre.latest_reconciliation(vend.meter_no)
        assert rec is not None and rec.verdict.value == "balanced"
        assert centre.verify_audit_chain().ok


@pytest.mark.bench
@pytest.mark.parametrize("requirement", [
    "tariff change at its effective date",
    "hoarding limit refusal",
    "reconciliation over several cycles",
])
def test_billing_heavy_certification_scenarios_against_a_served_centre(
        bench, tmp_path: Path, requirement: str) -> None:
    from rig.scenarios import certification as cert
    from rig.scenarios.steps import BenchSteps

    with open_billing(f"sqlite:///{tmp_path / 'served.sqlite'}",
                      clock=bench.clock.now) as centre:
        centre.register_operator("bench-admin", "administrator")
        token = centre.create_api_token("bench-admin", actor="bench-admin").secret
        record = RunRecord(requirement, identity=bench.identity)
        with serving(centre) as url, RemoteBillingCentre(url, token) as remote:
            try:
                cert.SCENARIOS[requirement](BenchSteps(bench, remote, record))
            finally:
                record.close()
        assert str(record.outcome) == "pass", [
            (s.name, str(s.outcome)) for s in record.steps if str(s.outcome) != "pass"]
        assert centre.verify_audit_chain().ok
