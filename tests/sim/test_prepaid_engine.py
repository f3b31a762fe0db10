"""The prepaid engine as the profiles declare it: alarm-2 trip, emergency credit, friendly
periods, power-limit trip, overdraft and close-allowed — each event at its exact instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from rig.profile import load_profile
from rig.sim.prepaid import PrepaidEngine, RelayReason

WED_8 = datetime(2026, 3, 4, 8, 0, tzinfo=UTC)  # a Wednesday morning: not friendly
H = 3600.0


def _run(e: PrepaidEngine, hours: float, watts: int, start: datetime) -> datetime:
    e.advance(hours * H, Decimal(watts), start)
    return start + timedelta(hours=hours)


def test_alarm2_trips_relay_and_card_insertion_recloses() -> None:
    e = PrepaidEngine(load_profile("iec62056-1p-energy"))
    e.apply_purchase(1, 10_000, WED_8)  # 10 kWh
    assert e.relay_closed
    now = _run(e, 9, 1000, WED_8)  # would reach 1 kWh, but alarm 2 (2 kWh) trips at 16:00
    assert e.events.last_alarm1 == WED_8 + timedelta(hours=5)
    assert e.events.last_alarm2 == WED_8 + timedelta(hours=8)
    assert not e.relay_closed and e.relay_reason is RelayReason.ALARM2_TRIP
    assert e.remaining == Decimal("2.000") and e.energy_wh == 8000
    assert e.events.cutoff_count == 0
    assert e.card_inserted(now)
    assert e.relay_closed and e.relay_reason is RelayReason.CLOSED
    assert not e.card_inserted(now)  # nothing to clear twice


def test_friendly_period_defers_cutoff_to_its_end_then_automatic_emergency() -> None:
    e = PrepaidEngine(load_profile("iec62056-1p-energy"))
    e.apply_purchase(1, 3_000, WED_8 + timedelta(hours=9))  # 17:00, 3 kWh
    # 1 kW from 17:00: alarm 2 at 18:00 is inside the friendly night: no trip, no cut-off.
    night = _run(e, 6, 1000, WED_8 + timedelta(hours=9))  # 23:00, credit -3 kWh
    assert e.relay_closed and e.overdraft == Decimal(3) and e.events.cutoff_count == 0
    _run(e, 9, 1000, night)  # to Thursday 08:00
    assert e.events.last_alarm2 == WED_8 + timedelta(hours=10)
    # At 07:00 credit is 3 - 14 = -11 kWh: an automatic loan of 3 kWh cannot lift it above
    # the -1 kWh cut-off level, so the meter cuts off exactly at the period's end.
    assert e.events.last_cutoff == datetime(2026, 3, 5, 7, 0, tzinfo=UTC)
    assert e.events.emergency_count == 0
    assert not e.relay_closed and e.relay_reason is RelayReason.CREDIT_EXHAUSTED
    assert e.energy_wh == 14_000 and e.overdraft == Decimal(11)


def test_automatic_emergency_credit_is_lent_then_repaid_from_next_purchase() -> None:
    e = PrepaidEngine(load_profile("iec62056-1p-energy"))
    e.apply_purchase(1, 2_500, WED_8)  # 2.5 kWh
    e.card_inserted(WED_8)
    now = _run(e, 1, 500, WED_8)  # alarm 2 trip at 2 kWh after 1 h
    e.card_inserted(now)
    now = _run(e, 6, 500, now)  # -1 kWh at 15:00: lent 3 kWh instead of the cut-off
    assert e.events.last_emergency == WED_8 + timedelta(hours=7)
    assert e.relay_closed and e.emergency_active and e.events.cutoff_count == 0
    assert e.emergency_outstanding == Decimal("3.000")
    # Customer's own balance: 2.5 - 3.5 consumed = -1 kWh overdraft, whatever is on loan.
    assert (e.remaining, e.overdraft) == (Decimal(0), Decimal("1.000"))
    e.apply_purchase(2, 5_000, now)
    assert e.emergency_outstanding == 0
    assert e.credit == Decimal("4.000") and e.remaining == Decimal("4.000")
    assert e.cumulative_purchase == Decimal("7.500")


def test_emergency_on_request_only_when_low_and_once_until_repaid() -> None:
    e = PrepaidEngine(load_profile("dlt645-1p-money"))  # 0.5 CNY/kWh, 5 CNY on request
    e.apply_purchase(1, 2_000, WED_8)  # 20 CNY
    assert not e.request_emergency_credit(WED_8)  # not low yet
    now = _run(e, 40, 1000, WED_8)  # 20 CNY = 40 kWh: cut-off at 48:00
    assert not e.relay_closed and e.events.last_cutoff == WED_8 + timedelta(hours=40)
    assert e.request_emergency_credit(now)
    assert e.relay_closed and e.credit == Decimal(5) and e.remaining == 0
    assert not e.request_emergency_credit(now)
    now = _run(e, 2, 1000, now)
    assert e.overdraft == Decimal("1.0000") and e.credit == Decimal("4.0000")
    e.apply_purchase(2, 300, now)  # 3 CNY repays 3 of the 5 lent
    assert e.emergency_outstanding == Decimal(2) and e.credit == Decimal("4.0000")
    assert e.balance == Decimal("2.0000")


def test_power_limit_trips_and_recloses_after_the_delay() -> None:
    e = PrepaidEngine(load_profile("dlt645-3p-power-limit"))
    e.apply_purchase(1, 10_000, WED_8)  # 100 CNY
    e.advance(30, Decimal(12_000), WED_8)
    assert not e.relay_closed and e.relay_reason is RelayReason.POWER_LIMIT
    assert e.events.last_power_trip == WED_8 and e.energy_wh == 0
    e.advance(29, Decimal(0), WED_8 + timedelta(seconds=30))
    assert not e.relay_closed
    e.advance(2, Decimal(0), WED_8 + timedelta(seconds=59))
    assert e.relay_closed and e.events.last_reconnect == WED_8 + timedelta(seconds=60)
    e.advance(10, Decimal(9_000), WED_8 + timedelta(seconds=61))  # under the limit: flows
    assert e.relay_closed and e.energy_wh == 25
    e.advance(10, Decimal(10_001), WED_8 + timedelta(seconds=71))
    assert e.events.power_trip_count == 2 and e.reconnect_at == WED_8 + timedelta(seconds=131)


def test_overdraft_limit_and_close_allowed_level() -> None:
    p = load_profile("dlt645-3p-power-limit")  # 0.8 CNY/kWh, overdraft to -20 CNY
    p = p.model_copy(update={"thresholds": p.thresholds.model_copy(
        update={"close_allowed": Decimal(10)})})
    e = PrepaidEngine(p)
    e.apply_purchase(1, 2_000, WED_8)  # 20 CNY: 40 CNY to the -20 cut-off = 50 kWh
    _run(e, 10, 6000, WED_8)
    assert e.events.last_cutoff == WED_8 + timedelta(hours=50 / 6)
    assert e.overdraft == Decimal("20.0000") and e.energy_wh == 50_000
    e.apply_purchase(2, 2_500, WED_8)  # credit 5 CNY: not above close_allowed (10)
    assert not e.relay_closed
    e.apply_purchase(3, 600, WED_8)  # 11 CNY: closes
    assert e.relay_closed and e.remaining == Decimal("11.0000")


def test_remote_trip_holds_until_remote_close() -> None:
    e = PrepaidEngine(load_profile())
    e.apply_purchase(1, 5_000, WED_8)
    e.remote_relay(False, WED_8)
    e.apply_purchase(2, 100, WED_8)  # a purchase does not override a remote trip
    assert not e.relay_closed and e.relay_reason is RelayReason.REMOTE
    e.remote_relay(True, WED_8)
    assert e.relay_closed


def test_hoarding_counts_repayment() -> None:
    e = PrepaidEngine(load_profile())
    e.apply_purchase(1, 999_000, WED_8)  # 9990 CNY of 9999.99
    assert not e.would_hoard(999)
    assert e.would_hoard(1_000)


def test_parameter_card_levels_are_validated_like_a_profile() -> None:
    e = PrepaidEngine(load_profile())
    e.set_thresholds(alarm1=Decimal(30), alarm2=Decimal(15))
    e.apply_purchase(1, 2_500, WED_8)
    assert e.profile.thresholds.alarm1 == 30
    e.advance(H, Decimal(1000), WED_8)  # 25 CNY - 0.5: alarm 1 (30) already crossed
    assert e.alarm1_active and not e.alarm2_active
    with pytest.raises(ValueError, match="alarm2 must not exceed alarm1"):
        e.set_thresholds(alarm2=Decimal(40))
    assert e.profile.thresholds.alarm2 == 15
