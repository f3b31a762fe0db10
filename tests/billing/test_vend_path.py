"""The lean vend path: what a sale returns is exactly what it stored (debt, fixed charge, tax,
change, agent float, cashier session, queued parameters all at once), a new tariff version is
used as soon as it is in effect despite the per-centre tariff cache. (How many statements a
plain sale sends to the driver is a figure of bench/billing_vend.py, not a test.)"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from rig.billing import BillingCentre, CreditUnit, ReadbackData, Tax, open_billing
from tests.billing.ledger import Clock, ingest

T0 = datetime(2024, 1, 1, tzinfo=UTC)
METER = "000012345678"


def start_clock() -> Clock:
    return Clock(T0 + timedelta(days=10, hours=9))


@pytest.fixture
def clock() -> Clock:
    return start_clock()


@pytest.fixture
def centre(billing_url: str, clock: Clock) -> Iterator[BillingCentre]:
    c = open_billing(billing_url, clock=clock)
    c.register_station("SHOP-7")
    c.register_operator("carol", "cashier")
    c.register_operator("sam", "supervisor")
    c.register_customer("Ada", "ACC-1")
    c.create_tariff("RES", Decimal("0.1537"), T0, fixed_monthly=Decimal("5.00"),
                    taxes=(Tax("VAT", Decimal("15")),))
    c.register_meter(METER, customer_account="ACC-1", profile="p",
                     credit_unit=CreditUnit.ENERGY_WH, tariff_code="RES", key_revision=4,
                     commissioning_energy_wh=0, commissioned_at=T0, hoarding_limit=900_000)
    c.issue_card(METER, "CARD-1")
    yield c
    c.close()


def confirm(c: BillingCentre, seq: int) -> None:
    ingest(c, ReadbackData(
        meter_no=METER, energy_wh=0, remaining=0, overdraft=0, purchase_count=seq,
        last_sequence=seq, cumulative_purchase=0, credit_unit=CreditUnit.ENERGY_WH,
        relay_open=False, alarm_active=False, alarm_count=0, cutoff_count=0, tamper_count=0,
        power_down_count=0, timestamp=T0, tariff_version=1))


def test_the_result_is_what_was_stored_with_every_part_of_a_sale(centre: BillingCentre) -> None:
    centre.add_debt(METER, Decimal("4.00"), "arrears", recovery_percent=Decimal("10"))
    centre.register_agent("Corner Shop", Decimal("50.00"))
    centre.assign_agent_station("Corner Shop", "SHOP-7")
    centre.queue_parameters(METER, operator="sam", alarm1=3000)
    session = centre.open_session("carol", "SHOP-7")
    v = centre.vend(METER, Decimal("20.00"), request_id="r1", station="SHOP-7",
                    operator="carol")
    assert v.parameters == {"alarm1": 3000}
    stored = replace(v, parameters=None)  # lookups do not carry the queued parameters
    assert centre.vend_by_id(v.vend_id) == stored
    assert [x.vend_id for x in centre.vends_for_meter(METER)] == [v.vend_id]
    assert {line.label for line in v.receipt} >= {"debt", "fixed", "tax"}
    assert sum(line.amount for line in v.receipt) == Decimal("20.00")
    assert centre.debts(METER)[0].outstanding == Decimal("2.00")
    assert centre.agent("Corner Shop").balance == Decimal("-20.00")
    assert (v.sequence, v.key_revision, v.card_serial) == (1, 4, "CARD-1")
    event = centre.audit_log("vend")[-1]
    assert (event.action, event.entity_id, event.after["credit"]) == (
        "vend.create", str(v.vend_id), v.credit)
    assert event.after["receipt"][0] == {"label": v.receipt[0].label,
                                         "amount": str(v.receipt[0].amount),
                                         "detail": v.receipt[0].detail}
    assert centre.verify_audit_chain().ok
    again = centre.vend(METER, Decimal("20.00"), request_id="r1", station="SHOP-7",
                        operator="carol")
    assert again == v  # a replay carries the parameters too: a rewritten card needs them
    closed = centre.close_session(session.session_id, operator="carol",
                                  counted_cash=Decimal("20.00"))
    assert closed.status == "closed"


def test_a_new_tariff_version_is_used_once_in_effect(centre: BillingCentre,
                                                     clock: Clock) -> None:
    first = centre.vend(METER, Decimal("10.00"), request_id="r1", station="SHOP-7",
                        operator="carol")
    confirm(centre, 1)
    centre.create_tariff("RES", Decimal("0.3000"), clock.now + timedelta(hours=1))
    early = centre.vend(METER, Decimal("10.00"), request_id="r2", station="SHOP-7",
                        operator="carol")
    assert early.tariff_version == first.tariff_version == 1
    confirm(centre, 2)
    clock.now += timedelta(hours=2)
    late = centre.vend(METER, Decimal("10.00"), request_id="r3", station="SHOP-7",
                       operator="carol")
    assert (late.tariff_version, late.price_per_kwh) == (2, Decimal("0.3000"))
