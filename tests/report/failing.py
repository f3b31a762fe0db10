"""A reconciliation that fails for real: the billing centre (SQLite) judging a readback a
defective meter signed (energy below the commissioning reading, half the purchase). Its MAC
is genuine, so the checks that fail are the ledger's, not the readback's authenticity."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from rig.billing.centre.opening import open_billing
from rig.billing.types import CreditUnit, ReadbackData, ReconciliationResult
from rig.report.record import RunRecord
from rig.scenarios.prepaid_cycle import record_reconciliation
from rig.scenarios.steps import attach_reconciliation
from rig.sim.meter_readback import meter_readback

METER = "000000001001"
COMMISSIONING_WH = 40000
READ_BACK_WH = 37858  # below the commissioning reading: energy_monotonic must fail
AT = datetime(2026, 3, 4, 8, 0, tzinfo=UTC)


def failing_reconciliation(directory: Path) -> ReconciliationResult:
    with open_billing(f"sqlite:///{directory / 'centre.sqlite'}", clock=lambda: AT) as centre:
        centre.register_station("ST-1")
        centre.register_operator("cashier", "cashier")
        centre.register_customer("A Customer", "ACC-1")
        centre.create_tariff("FLAT", Decimal("0.5283"), AT)
        centre.register_meter(METER, customer_account="ACC-1", profile="dlt645-1p-money",
                              credit_unit="money_cents", tariff_code="FLAT", key_revision=1,
                              commissioning_energy_wh=COMMISSIONING_WH, commissioned_at=AT)
        centre.issue_card(METER, "CARD-0001")
        vend = centre.vend(METER, Decimal("20.00"), request_id="r-1", station="ST-1",
                           operator="cashier")
        wrong = ReadbackData(
            meter_no=METER, energy_wh=READ_BACK_WH, remaining=1000, overdraft=0,
            purchase_count=1, last_sequence=vend.sequence,
            cumulative_purchase=vend.credit // 2, credit_unit=CreditUnit.MONEY_CENTS,
            relay_open=False, alarm_active=False, alarm_count=0, cutoff_count=0,
            tamper_count=0, power_down_count=0, timestamp=AT, tariff_version=1)
        return centre.ingest_readback(wrong, raw=meter_readback(wrong, key_revision=1))


def failing_cycle_record(directory: Path, *, use_allure: bool = False) -> RunRecord:
    """A prepaid-cycle record whose reconciliation step failed, recorded by the cycle's own
    code (rig.scenarios.prepaid_cycle.record_reconciliation)."""
    result = failing_reconciliation(directory)
    record = RunRecord("prepaid cycle", identity={"meter_profile": "dlt645-1p-money",
                                                  "station_id": "ST-1"}, use_allure=use_allure)
    with contextlib.suppress(AssertionError), record.step("upload readback and reconcile"):
        attach_reconciliation(record, result.evidence)  # as BenchSteps.upload_readback does
        record_reconciliation(record, result, "CNY")
    record.close()
    return record
