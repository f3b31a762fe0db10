"""Property: a meter that does exactly what the ledger sold it always reconciles as balanced."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rig.billing import BillingCentre, CreditUnit, ReadbackData, Verdict, open_billing, price_vend
from rig.billing.types import TariffInfo
from tests.billing.ledger import ingest

pytestmark = pytest.mark.filterwarnings("ignore:Dialect sqlite.*Decimal objects natively")

T0 = datetime(2024, 1, 1, tzinfo=UTC)
_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def centre(tmp_path_factory) -> BillingCentre:
    c = open_billing(f"sqlite:///{tmp_path_factory.mktemp('prop') / 'b.sqlite'}")
    c.register_station("DESK-1")
    c.register_operator("carol", "cashier")
    yield c
    c.close()


amounts = st.decimals(min_value=Decimal("1.00"), max_value=Decimal("500.00"), places=2)
prices = st.decimals(min_value=Decimal("0.0100"), max_value=Decimal("2.0000"), places=4)
steps = st.lists(st.tuples(amounts, st.integers(0, 400_000)), min_size=1, max_size=4)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    unit=st.sampled_from(list(CreditUnit)),
    price=prices,
    e0=st.integers(0, 10**9),
    steps=steps,
)
def test_exact_meter_always_balances(centre, unit, price, e0, steps) -> None:
    n = next(_numbers)
    meter_no, code = f"{n:012d}", f"T{n}"
    centre.register_customer(f"Customer {n}", f"ACC-{n}")
    centre.create_tariff(code, price, T0)
    centre.register_meter(
        meter_no,
        customer_account=f"ACC-{n}",
        profile="p",
        credit_unit=unit,
        tariff_code=code,
        key_revision=1,
        commissioning_energy_wh=e0,
        commissioned_at=T0,
    )
    centre.issue_card(meter_no, f"CARD-{n}")

    applied = 0
    used_wh = 0
    for seq, (amount, consume_wh) in enumerate(steps, start=1):
        v = centre.vend(
            meter_no, amount, request_id=f"{n}-{seq}", station="DESK-1", operator="carol"
        )
        assert v.sequence == seq
        assert sum(line.amount for line in v.receipt) == amount
        centre.mark_written(v.vend_id)
        applied += v.credit
        used_wh += consume_wh
        if unit is CreditUnit.MONEY_CENTS:
            # the meter charges to the nearest cent: at most half a cent from the exact cost
            used = int((Decimal(used_wh) * price / 10).quantize(Decimal(1), ROUND_HALF_UP))
        else:
            used = used_wh
        balance = applied - used
        rb = ReadbackData(
            meter_no=meter_no,
            energy_wh=e0 + used_wh,
            remaining=max(balance, 0),
            overdraft=max(-balance, 0),
            purchase_count=seq,
            last_sequence=seq,
            cumulative_purchase=applied,
            credit_unit=unit,
            relay_open=balance <= 0,
            alarm_active=False,
            alarm_count=0,
            cutoff_count=0,
            tamper_count=0,
            power_down_count=0,
            timestamp=T0 + timedelta(days=seq),
            tariff_version=1,
        )
        result = ingest(centre, rb)
        assert result.verdict is Verdict.BALANCED, result.failed
        assert result.confirmed_vend_ids == (v.vend_id,)


@given(amount=amounts, price=prices, unit=st.sampled_from(list(CreditUnit)))
def test_pricing_never_overcredits(amount, price, unit) -> None:
    tariff = TariffInfo(1, "T", 1, price, T0)
    p = price_vend(amount, tariff, unit)
    assert sum(c.amount for c in p.components) == amount
    if unit is CreditUnit.MONEY_CENTS:
        assert p.credit == int(amount * 100)
    else:
        value = Decimal(p.credit) * price / 1000
        assert value <= amount < value + price / 1000
