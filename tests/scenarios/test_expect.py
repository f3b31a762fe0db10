"""The reference model the scenarios judge by: predictions, tolerances and brackets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from rig.profile import load_profile
from rig.scenarios import expect

T0 = datetime(2026, 3, 4, 8, 0, tzinfo=UTC)  # a Wednesday
PRICE = Decimal("0.5283")


def test_money_meter_time_to_spend_credit() -> None:
    p = load_profile("dlt645-1p-money")
    # 2.50 CNY at 0.5283 CNY/kWh is 4.7322 kWh: 2.3661 h at 2 kW
    hours = expect.hours_to_spend(p, Decimal("2.50"), PRICE, Decimal(2000))
    assert hours.quantize(Decimal("0.0001")) == Decimal("2.3661")
    tol = expect.timing_tolerance_h(p, hours, PRICE, Decimal(2000))
    # class 1: 1 % of 2.3661 h, plus 0.01 CNY (18.9 Wh) and 1 Wh at 2 kW
    assert tol.quantize(Decimal("0.0001")) == Decimal("0.0336")


def test_energy_meter_cutoff_includes_overdraft_and_automatic_emergency_credit() -> None:
    p = load_profile("iec62056-1p-energy")  # overdraft 1 kWh, automatic loan 3 kWh
    assert expect.cutoff_energy_kwh(p, Decimal("1.987"), PRICE) == Decimal("5.987")
    assert expect.amount_for(p, Decimal("2.000"), PRICE, up=False) == Decimal("1.05")
    assert expect.amount_for(p, Decimal("2.000"), PRICE) == Decimal("1.06")


def test_next_friendly_period_and_its_end() -> None:
    p = load_profile("iec62056-1p-energy")  # 18:00-07:00, weekends, holidays
    assert expect.next_friendly_period(p, T0) == (T0.replace(hour=18),
                                                  T0.replace(day=5, hour=7))
    inside = T0.replace(hour=20)
    assert expect.friendly_at(p, inside)
    assert expect.next_friendly_period(p, inside) == (T0.replace(day=5, hour=18),
                                                      T0.replace(day=6, hour=7))
    friday = T0.replace(day=6, hour=12)  # the weekend joins Friday night to Monday morning
    assert expect.next_friendly_period(p, friday) == (T0.replace(day=6, hour=18),
                                                      T0.replace(day=9, hour=7))


def test_elapsed_between_two_brackets() -> None:
    start = (T0, T0 + timedelta(seconds=36))
    event = (T0 + timedelta(hours=2), T0 + timedelta(hours=2, seconds=72))
    mid, half = expect.elapsed_h(event, start)
    # between 2 h − 36 s and 2 h + 72 s
    assert (mid, half) == (Decimal("2.0050"), Decimal("0.0150"))
    assert expect.class_error(load_profile("dlt645-3p-power-limit")) == Decimal("0.005")
