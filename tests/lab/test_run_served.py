"""`rig run`'s runner on a bench config that names a served billing centre (URL + token file):
the prepaid cycle runs unchanged against it and the centre's ledger holds the result."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from rig.bench.config import BenchConfig, BillingSettings, MeterPort
from rig.billing import VendStatus, open_billing
from rig.scenarios.prepaid_cycle import CycleParams
from rig.scenarios.runner import run_prepaid_cycle
from tests.lab.service import served_centre

ADDRESS = "000000007001"
# The served centre keeps real time: the accelerated bench starts in the past, so its tariff
# (effective from bench time) is already in effect for the centre.
EPOCH = datetime(2026, 3, 4, 8, 0, tzinfo=UTC)


def test_runner_uses_the_served_centre(pg_url: str, tmp_path: Path) -> None:
    with served_centre(pg_url, tmp_path) as served:
        config = BenchConfig(time_scale=36000.0, epoch=EPOCH, meter=MeterPort(address=ADDRESS),
                             billing=BillingSettings(url=served.url,
                                                     token_file=served.token_file))
        run = run_prepaid_cycle(config, params=CycleParams(amount=Decimal("20.00"),
                                                           power_w=Decimal(2000)),
                                run_dir=tmp_path / "run")
    if run.error is not None:
        raise run.error
    assert run.result.verdict == "balanced"
    assert run.record.identity["billing_db"] == "http"
    with open_billing(pg_url) as centre:
        (vend,) = centre.vends_for_meter(ADDRESS)
        assert (vend.status, vend.amount) == (VendStatus.CONFIRMED, Decimal("20.00"))
        assert centre.verify_audit_chain().ok
