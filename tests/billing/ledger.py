"""A small billing ledger for the reports, bank and concurrency tests: a settable clock, one
station and cashier, meters with cards, and readbacks that confirm purchases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from rig.billing import (
    BillingCentre,
    CreditUnit,
    NotFound,
    ReadbackData,
    ReconciliationResult,
    VendResult,
)
from rig.sim.meter_readback import meter_readback

T0 = datetime(2024, 3, 1, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = T0 + timedelta(days=1, hours=9)) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def add_meter(c: BillingCentre, meter_no: str, *, account: str | None = None,
              name: str = "Ada", tariff: str = "RES",
              unit: CreditUnit = CreditUnit.MONEY_CENTS, commissioned: datetime = T0,
              energy_wh: int = 0) -> None:
    account = account or f"ACC-{meter_no}"
    c.register_customer(name, account)
    c.register_meter(meter_no, customer_account=account, profile="p", credit_unit=unit,
                     tariff_code=tariff, key_revision=1, commissioning_energy_wh=energy_wh,
                     commissioned_at=commissioned)
    c.issue_card(meter_no, f"CARD-{meter_no}")


def every_component_vend(url: str, meter_no: str) -> tuple[BillingCentre, VendResult]:
    """An open centre and one vend whose receipt has every kind of line: debt recovery, a
    fixed monthly charge, energy and two taxes (receipt and printer tests)."""
    from rig.billing import Tax, open_billing

    c = open_billing(url, clock=Clock(datetime(2024, 3, 2, 9, tzinfo=UTC)))
    c.create_tariff("RESV", Decimal("0.1875"), T0, fixed_monthly=Decimal("4.00"),
                    taxes=(Tax("VAT", Decimal("15")), Tax("levy", Decimal("2.5"))))
    c.register_station("DESK-1")
    c.register_operator("carol", "cashier")
    add_meter(c, meter_no, tariff="RESV", unit=CreditUnit.ENERGY_WH)
    c.add_debt(meter_no, Decimal("50.00"), "arrears (old meter)", recovery_percent=Decimal("10"))
    v = c.vend(meter_no, Decimal("57.35"), request_id="r", station="DESK-1", operator="carol")
    return c, v


def buy(c: BillingCentre, meter_no: str, amount: str, rid: str, *, station: str = "DESK-1",
        operator: str = "carol") -> VendResult:
    return c.vend(meter_no, Decimal(amount), request_id=rid, station=station, operator=operator)


def readback(c: BillingCentre, meter_no: str, *, seq: int | None = None, energy_wh: int = 0,
             at: datetime = T0, cumulative: int = 0, remaining: int = 0) -> None:
    """A readback showing purchases up to ``seq`` (default: all issued) applied."""
    seq = c.meter(meter_no).last_sequence if seq is None else seq
    data = ReadbackData(
        meter_no=meter_no, energy_wh=energy_wh, remaining=remaining, overdraft=0,
        purchase_count=seq,
        last_sequence=seq, cumulative_purchase=cumulative,
        credit_unit=c.meter(meter_no).credit_unit,
        relay_open=False, alarm_active=False, alarm_count=0, cutoff_count=0, tamper_count=0,
        power_down_count=0, timestamp=at, tariff_version=1)
    c.ingest_readback(data, raw=genuine(data, c.meter(meter_no).key_revision))


def genuine(data: ReadbackData, key_revision: int = 1) -> bytes:
    """The raw record meter ``data.meter_no`` writes: MAC'd under its own readback key (the
    lab test key's), which the centre verifies."""
    return meter_readback(data, key_revision=key_revision)


def ingest(c: BillingCentre, data: ReadbackData, **kw: Any) -> ReconciliationResult:
    """Upload ``data`` as the meter wrote it: raw record, genuine MAC at the meter's key
    revision (1 for a meter the centre does not know)."""
    try:
        revision = c.meter(data.meter_no).key_revision
    except NotFound:
        revision = 1
    return c.ingest_readback(data, raw=genuine(data, revision), **kw)
