"""Certification scenarios of the credit register: alarms, cut-off, overdraft and
close-allowed, emergency credit, friendly periods.

Times are predicted from the load's set point, the tariff and the profile, and compared in
bench time; relay and register states are read over the meter's own protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from rig.scenarios import expect
from rig.scenarios.cert_base import (
    PRICE,
    RECORD_RESOLUTION,
    alarm1_seen,
    clear_alarm2_trip,
    commission,
    consumption_power,
    longest_free_hours,
    measure_alarm_level,
    measure_load_power,
    measure_no_current,
    measure_timing,
    outside_friendly_periods,
    trips_at_alarm2,
)
from rig.scenarios.meter_hands import supply_off, supply_on
from rig.scenarios.steps import BenchSteps, MeterState


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


def _closed_while(s: BenchSteps, relay_open: bool, name: str) -> None:
    """Record that the relay was closed through a stretch of overdraft. If one poll saw the
    whole stretch pass (a slow machine), the overdraft at the cut-off judges it instead."""
    if relay_open:
        s.record.measure(name, "stretch passed between two polls: judged by the overdraft "
                               "at the cut-off")
    else:
        s.record.measure(name, relay_open, equals=False)


def alarms_at_predicted_times(s: BenchSteps) -> None:
    """Alarm 1 and alarm 2 come when load power and tariff say, each at its level; an
    alarm-2 relay trip (where the profile has one) is cleared by inserting the card.

    Certifies IEC 62055-31:2022 5.4.3, 3.5, Annex A; Q/GDW 1354-2013 clause 4
    (rig.scenarios.cert_citations).
    """
    p, t = s.bench.profile, s.bench.profile.thresholds
    power = consumption_power(s)
    commission(s)
    credit = _buy_credit(s, t.alarm1 + (t.alarm1 - t.alarm2) / 2, "buy credit above alarm 1")
    outside_friendly_periods(s, expect.hours_to_spend(p, credit, PRICE, power))
    with s.record.step("consume to alarm 1"):
        s.load_on(power)
        measure_load_power(s, "load power drawn", power)
        assert s.load_on_window is not None
        seen = s.watch(alarm1_seen(s), "alarm 1")
        predicted = expect.hours_to_spend(p, credit - t.alarm1, PRICE, power)
        measure_timing(s, "alarm 1 after load on", seen.window, s.load_on_window, predicted,
                       expect.timing_tolerance_h(p, predicted, PRICE, power))
        measure_alarm_level(s, "alarm 1", seen, t.alarm1)
    with s.record.step("consume to alarm 2"):
        seen = s.watch(lambda m: m.pre_trip_alarm, "alarm 2 (pre-trip)")
        predicted = expect.hours_to_spend(p, credit - t.alarm2, PRICE, power)
        measure_timing(s, "alarm 2 after load on", seen.window, s.load_on_window, predicted,
                       expect.timing_tolerance_h(p, predicted, PRICE, power))
        measure_alarm_level(s, "alarm 2", seen, t.alarm2)
        trip = trips_at_alarm2(s, seen.latest)
        # A poll that first sees alarm 2 may come after the credit is gone (a busy machine at
        # a fast clock): the relay is then open for the cut-off, not for alarm 2.
        exhausted = seen.state.remaining <= 0 and seen.state.overdraft >= t.overdraft_limit
        actions = "alarm2_actions: " + ", ".join(sorted(t.alarm2_actions))
        if exhausted:  # the relay's state is the cut-off's, which its own requirement judges
            s.record.measure("relay open at alarm 2", seen.state.relay_open,
                             description=f"{actions}; seen only after the credit ran out: "
                                         "judged by the cut-off requirement")
        else:
            s.record.measure("relay open at alarm 2", seen.state.relay_open, equals=trip,
                             basis="profile: thresholds.alarm2_actions", description=actions)
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
    _alarm_level_on_slow_approach(s, "alarm 2", t.alarm2, lambda m: m.pre_trip_alarm, power)
    if s.meter.state().alarm1 is not None:  # a protocol that reports alarm 1
        _alarm_level_on_slow_approach(s, "alarm 1", t.alarm1, alarm1_seen(s), power)


SLOW = 10  # the approach draws 1/SLOW of the consumption power
APPROACH = Decimal("1.15")  # from 15 % above the level: past a 10 % defect, inside a workday


def _alarm_level_on_slow_approach(s: BenchSteps, alarm: str, level: Decimal,
                                  flag: Callable[[MeterState], bool], power: Decimal) -> None:
    """The alarm's level itself, approached at a tenth of the power: credit then moves
    little between two polls, so the level is judged to a few register digits whatever the
    machine's polling speed (at full power a busy machine's polls can be further apart than
    a tenth of the level)."""
    p = s.bench.profile
    with s.record.step(f"credit above {alarm} again"):
        # A purchase repays any overdraft first (a busy machine may have let the load run
        # into it before it was switched off).
        room = level * APPROACH - s.meter.remaining() + s.meter.overdraft()
        if room > 0:
            s.card_to_writer()
            _, delivery = s.buy(expect.amount_for(p, room, PRICE,
                                                  at_least=s.billing.limits.minimum))
            s.record.measure("card accepted", delivery.accepted, equals=True)
            s.settle()
        clear_alarm2_trip(s)
        s.record.measure(f"{alarm} cleared above its level", flag(s.meter.state()),
                         equals=False)
    slow = power / SLOW
    hours = expect.hours_to_spend(p, s.meter.remaining() - level, PRICE, slow)
    free = longest_free_hours(s)
    # It must fit between two friendly periods, with the 3 h the wait below adds and 1 h of
    # polling slack.
    if free is not None and hours + 4 > free:
        fits = max(free - 4, Decimal(1))
        slow = (slow * hours / fits).quantize(Decimal("0.001"))
        hours = fits
    outside_friendly_periods(s, hours + 1)
    with s.record.step(f"{alarm} at its level, approached at {slow} W"):
        s.load_on(slow)
        seen = s.watch(flag, f"{alarm} (slow approach)")
        measure_alarm_level(s, alarm, seen, level)
        s.load_off()


def cutoff_and_reconnection(s: BenchSteps) -> None:
    """Cut-off at exhaustion or at the overdraft limit (after any automatic emergency
    credit), when predicted; no reconnection without a purchase or with one that leaves
    credit at or below close-allowed; reconnection after a purchase that lifts it above.

    Certifies IEC 62055-31:2022 3.5, 7.2.2, Annex A; Q/GDW 1354-2013 clause 4
    (rig.scenarios.cert_citations).
    """
    p, t = s.bench.profile, s.bench.profile.thresholds
    power = consumption_power(s)
    commission(s)
    # at or below alarm 2 from the start: a relay-trip meter trips once, before consumption
    credit = _buy_credit(s, t.alarm2 if "relay_trip" in t.alarm2_actions else t.alarm2 / 2,
                         "buy a little credit", up=False)
    clear_alarm2_trip(s)
    credit = s.meter.remaining()
    outside_friendly_periods(s, expect.cutoff_energy_kwh(p, credit, PRICE) * 1000 / power + 1)
    with s.record.step("consume the credit"):
        s.load_on(power)
        measure_load_power(s, "load power drawn", power)
        seen = s.watch(lambda m: m.remaining == 0 or m.relay_open, "credit exhausted")
        if t.overdraft_limit > 0 or expect.automatic_emergency(p) > 0:
            _closed_while(s, seen.state.relay_open, "relay closed at exhaustion (overdraft "
                          "allowed)")
    with s.record.step("consume to the cut-off"):
        cut = s.watch(lambda m: m.relay_open, "cut-off")
        measure_no_current(s)
        lent = expect.automatic_emergency(p)
        expected_debt = t.overdraft_limit + lent
        s.record.measure("remaining credit at cut-off", cut.state.remaining, s.unit,
                         equals=Decimal(0))
        s.record.measure("overdraft at cut-off", s.meter.overdraft(), s.unit,
                         low=expected_debt, high=expected_debt + expect.REGISTER_DIGIT,
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
        supply_off(s)  # a grid outage: the meter must come back as it was, open
        supply_on(s)
        s.record.measure("relay still open after a supply outage", s.meter.state().relay_open,
                         equals=True)
        s.record.measure("no energy counted while open", s.meter.energy_kwh(), "kWh",
                         equals=energy)
        s.load_off()  # the customer switches off before buying: registers then stand still
        s.settle()
    # credit after it halfway between the cut-off level and close-allowed (a purchase repays
    # any emergency credit lent first): the window where only close-allowed keeps it open
    small = expected_debt - (t.overdraft_limit - t.close_allowed) / 2
    if expect.amount_for(p, small, PRICE, up=False) >= s.billing.limits.minimum and small > 0:
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
                         low=bought - owed - expect.REGISTER_DIGIT, high=bought - owed)
        s.load_on(power)
        measure_load_power(s, "load power drawn again", power)
        s.load_off()
        verdict = s.settle().reconciliation.verdict
        s.record.measure("reconciliation verdict", str(verdict), equals="balanced")


def emergency_credit(s: BenchSteps) -> None:
    """Emergency credit is lent as the profile says (on request at or below alarm 2, or
    automatically at the cut-off), once, and repaid first from the next purchase.

    Certifies IEC 62055-31:2022 5.4.3, 3.5, Annex A; Q/GDW 1354-2013 clause 4
    (rig.scenarios.cert_citations).
    """
    p, t = s.bench.profile, s.bench.profile.thresholds
    ec = p.emergency_credit
    assert ec is not None, "the test requires the emergency_credit capability"
    power = consumption_power(s)
    commission(s)
    on_request = ec.activation == "on_request"
    above = t.alarm2 + (t.alarm1 - t.alarm2) / 2 if on_request else t.alarm2
    credit = _buy_credit(s, above, "buy credit", up=False)
    clear_alarm2_trip(s)
    if on_request:
        with s.record.step("request refused while credit is above alarm 2"):
            before = s.meter.state()
            s.record.measure("emergency credit granted", s.press_meter_key("emergency_credit"),
                             equals=False)
            s.record.measure("remaining credit unchanged", s.meter.remaining(), s.unit,
                             equals=before.remaining)
    outside_friendly_periods(
        s, expect.cutoff_energy_kwh(p, credit + ec.amount, PRICE) * 1000 / power + 1)
    with s.record.step("consume to the cut-off"):
        s.load_on(power)
        if on_request:
            cut = s.watch(lambda m: m.relay_open, "cut-off")
            s.record.measure("overdraft at cut-off", cut.state.overdraft, s.unit,
                             low=t.overdraft_limit,
                             high=t.overdraft_limit + expect.REGISTER_DIGIT)
        else:
            lent = s.watch(lambda m: m.overdraft > t.overdraft_limit or m.relay_open,
                           "emergency credit lent at the overdraft limit")
            _closed_while(s, lent.state.relay_open,
                          "relay closed past the overdraft limit (lent, not cut off)")
            if lent.state.emergency is not None and not lent.state.relay_open:
                s.record.measure("emergency credit flag", lent.state.emergency, equals=True)
    if on_request:
        with s.record.step("customer requests emergency credit"):
            s.record.measure("emergency credit granted", s.press_meter_key("emergency_credit"),
                             equals=True)
            state = s.meter.state()
            s.record.measure("relay closed", state.relay_open, equals=False)
            s.record.measure("remaining credit (the loan is not the customer's)",
                             state.remaining, s.unit, equals=Decimal(0))
            measure_load_power(s, "load power drawn on emergency credit", power)
    with s.record.step("consume the emergency credit to the cut-off"):
        cut = s.watch(lambda m: m.relay_open, "cut-off after emergency credit")
        measure_no_current(s)
        owed = t.overdraft_limit + ec.amount
        s.record.measure("overdraft at cut-off (overdraft limit + emergency credit)",
                         cut.state.overdraft, s.unit, low=owed,
                         high=owed + expect.REGISTER_DIGIT)
        if on_request:
            s.record.measure("second request before repayment granted",
                             s.press_meter_key("emergency_credit"), equals=False)
        s.load_off()
    with s.record.step("next purchase repays the emergency credit first"):
        owed = s.meter.overdraft()
        vend, delivery = s.buy(expect.amount_for(p, owed + t.alarm1, PRICE))
        bought = s.credit_of(vend)
        s.record.measure("card accepted", delivery.accepted, equals=True)
        state = s.meter.state()
        s.record.measure("remaining credit = purchase − emergency credit − overdraft",
                         state.remaining, s.unit, low=bought - owed - expect.REGISTER_DIGIT,
                         high=bought - owed)
        s.record.measure("relay closed", state.relay_open, equals=False)
        if state.emergency is not None:
            s.record.measure("emergency credit flag cleared", state.emergency, equals=False)
        verdict = s.settle().reconciliation.verdict
        s.record.measure("reconciliation verdict", str(verdict), equals="balanced")


def friendly_period(s: BenchSteps) -> None:
    """Inside a friendly period the meter does not cut off (nor trip at alarm 2) however
    far credit falls; it cuts off at the period's end.

    Certifies IEC 62055-31:2022 3.6, 3.5, Annex A; Q/GDW 1354-2013 clause 4
    (rig.scenarios.cert_citations).
    """
    p, t = s.bench.profile, s.bench.profile.thresholds
    power = consumption_power(s)
    commission(s)
    start, end = expect.next_friendly_period(p, s.bench.now() + timedelta(hours=2))
    lead = timedelta(hours=1)
    # Enough credit to reach the period with alarm 2 still ahead, not enough for the night.
    credit = _buy_credit(s, t.alarm2 + expect.hours(lead) * 2 * power / 1000
                         * (PRICE if expect.money(p) else 1), "buy credit for the evening")
    with s.record.step("wait for the evening"):
        s.record.measure("friendly period (meter clock)", f"{start.isoformat()} – "
                                                         f"{end.isoformat()}")
        s.wait_until(start - lead)
        s.load_on(power)
        measure_load_power(s, "load power drawn", power)
    with s.record.step("inside the friendly period: no cut-off"):
        seen = s.watch(lambda m: m.relay_open, "cut-off at the end of the friendly period",
                       max_bench_hours=48)
        last_closed = seen.before
        s.record.measure("credit bought", credit, s.unit)
        # Read at the first poll that saw the relay open: nothing is counted after the
        # cut-off, so this is the overdraft the period let the meter reach, whatever the
        # polling rate (the last poll seen closed may be hours before the period's end).
        s.record.measure("overdraft reached with the relay closed", seen.state.overdraft,
                         s.unit, low=t.overdraft_limit + expect.automatic_emergency(p)
                         + expect.REGISTER_DIGIT,
                         description="past the cut-off level: only the period kept it on "
                                     "(read when the relay was first seen open)")
        if last_closed is not None and "relay_trip" in t.alarm2_actions:
            s.record.measure("alarm 2 raised inside the period without a relay trip",
                             last_closed.pre_trip_alarm, equals=True)
        s.record.measure("relay first seen open (bench time)",
                         seen.latest.isoformat(timespec="seconds"))
        record = s.meter.last_cutoff_or_none()
        if record is None:  # opened for another reason (an alarm-2 trip inside the period)
            s.record.measure("cut-off recorded by the meter", False, equals=True,
                             description=f"relay open, status {seen.state}")
        else:
            s.record.measure("cut-off at the period's end (meter trip record)",
                             Decimal(str((record - end).total_seconds())), "s",
                             low=Decimal(0), high=Decimal(RECORD_RESOLUTION.total_seconds()),
                             description=f"period ends {end.isoformat()}; record "
                                         f"{record.isoformat()}")
        measure_no_current(s)
        s.load_off()
