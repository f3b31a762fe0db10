"""Certification scenarios of the credit register: alarms, cut-off, overdraft and
close-allowed, emergency credit, friendly periods.

Times are predicted from the load's set point, the tariff and the profile, and compared in
bench time; relay and register states are read over the meter's own protocol.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from rig.scenarios import expect
from rig.scenarios.cert_base import (
    PRICE,
    alarm1_seen,
    clear_alarm2_trip,
    commission,
    consumption_power,
    measure_load_power,
    measure_no_current,
    measure_timing,
    trips_at_alarm2,
)
from rig.scenarios.steps import BenchSteps

RECORD_RESOLUTION = timedelta(seconds=1)  # event records carry YYMMDDhhmmss


def _buy_credit(s: BenchSteps, credit: Decimal, step: str, *, up: bool = True) -> Decimal:
    """Buy about `credit`, insert it, check the meter shows exactly what was sold."""
    p = s.bench.profile
    with s.record.step(step):
        vend, delivery = s.buy(expect.amount_for(p, credit, PRICE, up=up))
        bought = s.credit_of(vend)
        s.record.measure("card accepted", delivery.accepted, equals=True)
        s.record.measure("remaining credit", s.meter.remaining(), s.unit, equals=bought)
        s.settle()
        return bought


def alarms_at_predicted_times(s: BenchSteps) -> None:
    """Alarm 1 and alarm 2 come when load power and tariff say, each at its level; an
    alarm-2 relay trip (where the profile has one) is cleared by inserting the card."""
    p, t = s.bench.profile, s.bench.profile.thresholds
    power = consumption_power(s)
    commission(s)
    credit = _buy_credit(s, t.alarm1 + (t.alarm1 - t.alarm2) / 2, "buy credit above alarm 1")
    with s.record.step("consume to alarm 1"):
        s.load_on(power)
        measure_load_power(s, "load power drawn", power)
        assert s.load_on_window is not None
        seen = s.watch(alarm1_seen(s), "alarm 1")
        predicted = expect.hours_to_spend(p, credit - t.alarm1, PRICE, power)
        measure_timing(s, "alarm 1 after load on", seen.window, s.load_on_window, predicted,
                       expect.timing_tolerance_h(p, predicted, PRICE, power))
        s.record.measure("remaining credit at alarm 1", seen.state.remaining, s.unit,
                         high=t.alarm1)
        if seen.before is not None:
            s.record.measure("remaining credit just before alarm 1",
                             seen.before.remaining_without_flags,
                             s.unit, low=t.alarm1)
    with s.record.step("consume to alarm 2"):
        seen = s.watch(lambda m: m.pre_trip_alarm, "alarm 2 (pre-trip)")
        predicted = expect.hours_to_spend(p, credit - t.alarm2, PRICE, power)
        measure_timing(s, "alarm 2 after load on", seen.window, s.load_on_window, predicted,
                       expect.timing_tolerance_h(p, predicted, PRICE, power))
        s.record.measure("remaining credit at alarm 2", seen.state.remaining, s.unit,
                         high=t.alarm2)
        if seen.before is not None:
            s.record.measure("remaining credit just before alarm 2",
                             seen.before.remaining_without_flags,
                             s.unit, low=t.alarm2)
        trip = trips_at_alarm2(s, seen.latest)
        s.record.measure("relay open at alarm 2", seen.state.relay_open, equals=trip,
                         description="alarm2_actions: " + ", ".join(sorted(t.alarm2_actions)))
        if trip:
            measure_no_current(s)
    if trip:
        with s.record.step("card insertion clears the alarm-2 trip"):
            before = s.meter.remaining()
            delivery = s.insert_into_meter()
            s.record.measure("meter display", delivery.meter_message)
            s.record.measure("no purchase applied", delivery.applied_sequence, equals=None)
            s.record.measure("relay closed after the card", s.meter.state().relay_open,
                             equals=False)
            measure_load_power(s, "load power drawn again", power)
            s.record.measure("remaining credit not increased", s.meter.remaining(), s.unit,
                             high=before)
    s.load_off()


def cutoff_and_reconnection(s: BenchSteps) -> None:
    """Cut-off at exhaustion or at the overdraft limit (after any automatic emergency
    credit), when predicted; no reconnection without a purchase or with one that leaves
    credit at or below close-allowed; reconnection after a purchase that lifts it above."""
    p, t = s.bench.profile, s.bench.profile.thresholds
    power = consumption_power(s)
    commission(s)
    # at or below alarm 2 from the start: a relay-trip meter trips once, before consumption
    credit = _buy_credit(s, t.alarm2 if "relay_trip" in t.alarm2_actions else t.alarm2 / 2,
                         "buy a little credit", up=False)
    clear_alarm2_trip(s)
    credit = s.meter.remaining()
    with s.record.step("consume the credit"):
        s.load_on(power)
        measure_load_power(s, "load power drawn", power)
        seen = s.watch(lambda m: m.remaining == 0 or m.relay_open, "credit exhausted")
        if t.overdraft_limit > 0 or expect.automatic_emergency(p) > 0:
            s.record.measure("relay closed at exhaustion (overdraft allowed)",
                             seen.state.relay_open, equals=False)
    with s.record.step("consume to the cut-off"):
        cut = s.watch(lambda m: m.relay_open, "cut-off")
        measure_no_current(s)
        lent = expect.automatic_emergency(p)
        expected_debt = t.overdraft_limit + lent
        s.record.measure("remaining credit at cut-off", cut.state.remaining, s.unit,
                         equals=Decimal(0))
        s.record.measure("overdraft at cut-off", s.meter.overdraft(), s.unit,
                         low=expected_debt, high=expected_debt + expect.resolution(p),
                         description=f"overdraft limit {t.overdraft_limit} + automatic "
                                     f"emergency credit {lent}")
        record = s.meter.last_cutoff()
        predicted = expect.cutoff_energy_kwh(p, credit, PRICE) * 1000 / power
        assert s.load_on_window is not None
        measure_timing(s, "cut-off after load on (meter trip record)",
                       (record, record + RECORD_RESOLUTION), s.load_on_window, predicted,
                       expect.timing_tolerance_h(p, predicted, PRICE, power))
    with s.record.step("no reconnection without a purchase"):
        energy = s.meter.energy_kwh()
        s.wait_until(s.bench.now() + timedelta(hours=1))
        delivery = s.insert_into_meter()
        s.record.measure("card accepted", delivery.accepted, equals=True)
        s.record.measure("relay still open after the card alone", s.meter.state().relay_open,
                         equals=True)
        s.record.measure("no energy counted while open", s.meter.energy_kwh(), "kWh",
                         equals=energy)
        s.load_off()  # the customer switches off before buying: registers then stand still
        s.settle()
    small = (expected_debt + t.close_allowed) / 2
    if expect.amount_for(p, small, PRICE, up=False) >= Decimal("1.00") and small > 0:
        with s.record.step("purchase leaving credit at or below close-allowed"):
            owed = s.meter.overdraft()
            vend, delivery = s.buy(expect.amount_for(p, small, PRICE, up=False))
            bought = s.credit_of(vend)
            s.record.measure("card accepted", delivery.accepted, equals=True)
            s.record.measure("relay stays open", s.meter.state().relay_open, equals=True)
            s.record.measure("overdraft after the purchase", s.meter.overdraft(), s.unit,
                             equals=owed - bought)
            s.settle()
    else:
        with s.record.step("purchase leaving credit at or below close-allowed"):
            s.record.measure("smallest purchase already lifts credit above close-allowed",
                             f"overdraft {expected_debt}, close-allowed {t.close_allowed}")
    with s.record.step("purchase lifting credit above close-allowed recloses"):
        owed = s.meter.overdraft()
        vend, delivery = s.buy(expect.amount_for(p, owed + t.close_allowed + t.alarm1, PRICE))
        bought = s.credit_of(vend)
        s.record.measure("card accepted", delivery.accepted, equals=True)
        state = s.meter.state()
        s.record.measure("relay closed", state.relay_open, equals=False)
        s.record.measure("remaining credit", state.remaining, s.unit,
                         low=bought - owed - expect.resolution(p), high=bought - owed)
        s.load_on(power)
        measure_load_power(s, "load power drawn again", power)
        s.load_off()
        verdict = s.settle().reconciliation.verdict
        s.record.measure("reconciliation verdict", str(verdict), equals="balanced")
