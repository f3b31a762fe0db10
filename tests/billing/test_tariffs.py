"""Tariff arithmetic: every component on the receipt, summing exactly to the money paid."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from rig.billing import Band, Block, CreditUnit, DebtInfo, TariffInfo, Tax, price_vend
from rig.billing.tariffs import WH_PER_KWH

T0 = datetime(2024, 1, 1, tzinfo=UTC)
VAT = Tax("VAT", Decimal("15"))
LEVY = Tax("levy", Decimal("2.5"))
BLOCKS = (Block(50_000, Decimal("0.1000")), Block(150_000, Decimal("0.1500")),
          Block(None, Decimal("0.2200")))


def tariff(kind: str = "flat", **kw) -> TariffInfo:
    return TariffInfo(1, "RES", 1, kw.pop("price", Decimal("0.1537")), T0, kind=kind, **kw)


cents = st.integers(min_value=100, max_value=500_000).map(lambda c: Decimal(c) / 100)
prices = st.integers(min_value=1, max_value=99_999).map(lambda p: Decimal(p) / 10_000)


def test_block_boundary_exact() -> None:
    # 45 kWh used: 5 kWh left in block 1 (0.50), then block 2 at 0.15.
    p = price_vend(Decimal("2.00"), tariff("block", blocks=BLOCKS), CreditUnit.ENERGY_WH,
                   month_energy_wh=45_000)
    energy = [c for c in p.components if c.label == "energy"]
    assert [c.amount for c in energy] == [Decimal("0.50"), Decimal("1.50")]
    assert p.credit == 5_000 + 10_000
    assert p.change_out == 0


def test_block_usage_past_a_boundary_pays_the_higher_rate() -> None:
    p = price_vend(Decimal("3.00"), tariff("block", blocks=BLOCKS), CreditUnit.ENERGY_WH,
                   month_energy_wh=150_000)
    assert p.credit == int(Decimal("3.00") * WH_PER_KWH / Decimal("0.22"))


def test_tou_band_of_the_purchase_instant_with_local_offset() -> None:
    bands = (Band("night", 22 * 60, 6 * 60, Decimal("0.0800")),
             Band("day", 6 * 60, 22 * 60, Decimal("0.2000")))
    t = tariff("tou", bands=bands, utc_offset_minutes=120)
    at_utc_21h = datetime(2024, 1, 1, 21, 0, tzinfo=UTC)  # 23:00 local: night
    p = price_vend(Decimal("8.00"), t, CreditUnit.ENERGY_WH, at=at_utc_21h)
    assert p.credit == 100_000
    assert "night" in p.components[0].detail


def test_receipt_shows_every_component() -> None:
    debt = DebtInfo(7, "m", "old arrears", Decimal("100"), Decimal("3.00"), Decimal("10"),
                    Decimal("1.00"))
    p = price_vend(Decimal("50.00"), tariff(taxes=(VAT, LEVY)), CreditUnit.ENERGY_WH,
                   change_in=Decimal("0.04"), fixed_due=Decimal("5.00"), debts=[debt])
    labels = [c.label for c in p.components]
    assert labels[:3] == ["change_in", "debt", "fixed"]
    assert {"energy", "tax"} <= set(labels)
    assert p.debt_recovered == ((7, Decimal("3.00")),)  # 10 % + 1.00 = 6.00, capped at 3.00
    assert sum(c.amount for c in p.components) == Decimal("50.00")
    tax = [c.amount for c in p.components if c.label == "tax"]
    assert tax[0] == (p.energy_charge * Decimal("0.15")).quantize(Decimal("0.01"), "ROUND_FLOOR")


@settings(max_examples=300, deadline=None)
@given(amount=cents, price=prices, month=st.integers(0, 300_000),
       money=st.booleans(), with_tax=st.booleans(), fixed=st.integers(0, 2_000))
def test_components_add_up_to_the_money_paid(amount, price, month, money, with_tax, fixed):
    unit = CreditUnit.MONEY_CENTS if money else CreditUnit.ENERGY_WH
    t = (tariff(price=price, taxes=(VAT, LEVY) if with_tax else ()) if money
         else tariff("block", price=price, blocks=(Block(50_000, price), Block(None, price * 2)),
                     taxes=(VAT,) if with_tax else ()))
    p = price_vend(amount, t, unit, month_energy_wh=month, fixed_due=Decimal(fixed) / 100)
    assert sum(c.amount for c in p.components) == amount
    assert all(c.amount == c.amount.quantize(Decimal("0.01")) for c in p.components)
    assert p.change_out >= 0
    assert p.credit > 0 or amount <= Decimal(fixed) / 100 + 1


@settings(max_examples=20, deadline=None)
@given(amounts=st.lists(cents, min_size=1000, max_size=1000), price=prices)
def test_no_rounding_leak_over_a_thousand_vends(amounts, price) -> None:
    """Σ paid = Σ (energy + taxes) + the change still held: nothing vanishes in rounding."""
    t = tariff(price=price, taxes=(VAT, LEVY))
    change, charged, energy, credited = Decimal("0.00"), Decimal("0.00"), Decimal(0), 0
    for a in amounts:
        p = price_vend(a, t, CreditUnit.ENERGY_WH, change_in=change)
        assert sum(c.amount for c in p.components) == a
        charged += p.energy_charge + p.tax_total
        energy += p.energy_charge
        credited += p.credit
        change = p.change_out
    assert charged + change == sum(amounts)
    # the change held is bounded: below one Wh, one cent per rounding, with taxes on top
    assert change < (price / WH_PER_KWH + Decimal("0.03")) * Decimal("1.175") + Decimal("0.02")
    # and the energy credited is what the energy lines charge, within half a cent per vend
    assert abs(Decimal(credited) * price / WH_PER_KWH - energy) <= Decimal("0.005") * len(amounts)
