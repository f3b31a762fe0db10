"""Certification scenarios of meter settings and protocol: parameter cards, the power-limit
trip, and the error answer to a register the meter does not have."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_CEILING, Decimal

from rig.card_formats.interface import CardKind, ParameterSet, TariffRate
from rig.scenarios import expect
from rig.scenarios.cert_base import (
    PRICE,
    alarm1_seen,
    clear_alarm2_trip,
    commission,
    consumption_power,
    measure_alarm_level,
    measure_load_power,
    outside_friendly_periods,
)
from rig.scenarios.steps import ADMINISTRATOR, BenchSteps


def parameter_card_changes_thresholds(s: BenchSteps) -> None:
    """A PARAMETER card moves the alarm and limit levels: the meter's parameter registers
    read them back (where its protocol has them), the alarms come at the new levels, and the
    billing centre holds the new hoarding limit the card carries.

    Certifies IEC 62055-31:2022 5.8.2, 5.4.3, Annex A; Q/GDW 1354-2013 clause 4
    (rig.scenarios.cert_citations).
    """
    p, t = s.bench.profile, s.bench.profile.thresholds
    new = {"alarm1": t.alarm1 * 2, "alarm2": t.alarm2 * 2,
           "overdraft_limit": t.overdraft_limit + t.alarm2,
           "hoarding_limit": (t.hoarding_limit / 2).quantize(p.credit.resolution)}
    commission(s)
    if s.lacks_kind(CardKind.PARAMETER):
        return
    with s.record.step("levels before the parameter card"):
        levels = s.meter.levels()
        if levels is None:
            s.record.measure("parameter registers", "not in this protocol's readout: "
                             "checked by the alarms")
        else:
            for name, value in levels.items():
                s.record.measure(f"{name} register", value, s.unit, equals=getattr(t, name))
    with s.record.step("buy credit above the new alarm 1"):
        margin = (new["alarm1"] - new["alarm2"]) / 4
        vend, delivery = s.buy(expect.amount_for(p, new["alarm1"] + margin, PRICE))
        s.record.measure("card accepted", delivery.accepted, equals=True)
        s.settle()
        credit = s.meter.remaining()
    with s.record.step("insert the parameter card"):
        s.personalise_as(CardKind.PARAMETER)
        units = p.to_credit_units
        record = ParameterSet(
            meter_no=s.meter_no, version=1, alarm1=units(new["alarm1"]),
            alarm2=units(new["alarm2"]), overdraft_limit=units(new["overdraft_limit"]),
            hoarding_limit=units(new["hoarding_limit"]),
            power_limit_w=int(p.power_limit.max_power_w or 0) if p.power_limit else 0,
            friendly_periods=(), tariff_version=vend.tariff_version,
            tariff_rates=(TariffRate(0, vend.price_per_kwh),),
            key_revision=p.card.key_revision)
        with s.bench.card_at_writer() as conn:
            s.station.write_parameters(conn, record, actor=ADMINISTRATOR)
        s.record.measure("centre's hoarding limit", s.billing.hoarding(s.meter_no).limit,
                         "credit units", equals=record.hoarding_limit)
        delivery = s.insert_into_meter()
        s.record.measure("meter display", delivery.meter_message)
        s.record.measure("remaining credit unchanged", s.meter.remaining(), s.unit,
                         equals=credit)
        s.card_to_writer()
        s.personalise_as(CardKind.USER)
    if levels is not None:
        with s.record.step("levels read back over the meter protocol"):
            for name, value in (s.meter.levels() or {}).items():
                s.record.measure(f"{name} register", value, s.unit, equals=new[name])
    power = consumption_power(s)
    outside_friendly_periods(s, expect.hours_to_spend(p, credit - new["alarm2"], PRICE, power))
    with s.record.step("alarms at the new levels"):
        s.load_on(power)
        if s.meter.state().alarm1 is not None:  # a protocol with an alarm-1 flag
            seen = s.watch(alarm1_seen(s), "alarm 1 at the new level")
            measure_alarm_level(s, "alarm 1", seen, new["alarm1"])
        seen = s.watch(lambda m: m.pre_trip_alarm, "alarm 2 at the new level")
        measure_alarm_level(s, "alarm 2", seen, new["alarm2"], f"old level {t.alarm2}")
        s.load_off()
        clear_alarm2_trip(s)


def power_limit_trip_and_recovery(s: BenchSteps) -> None:
    """Above the power limit the relay opens at once, stays open for the reconnection
    delay, and recloses by itself once the load is back below the limit.

    Certifies IEC 62055-31:2022 3.5; Q/GDW 1354-2013 clause 4 (rig.scenarios.cert_citations).
    """
    p = s.bench.profile
    lim = p.power_limit
    assert lim is not None, "the test requires the power_limit capability"
    m = p.metering
    limit_w = lim.max_power_w or (lim.max_current_a or Decimal(0)) * m.nominal_voltage * m.phases
    below, above = (limit_w / 2).quantize(Decimal(1)), (limit_w * Decimal("1.2")).quantize(
        Decimal(1), rounding=ROUND_CEILING)
    delay = Decimal(lim.reconnect_delay_s)
    commission(s)
    with s.record.step("buy credit"):
        _, delivery = s.buy(expect.amount_for(p, p.thresholds.alarm1 * 4, PRICE))
        s.record.measure("card accepted", delivery.accepted, equals=True)
        s.settle()
    outside_friendly_periods(s, Decimal(1))
    with s.record.step("load below the limit"):
        s.load_on(below)
        measure_load_power(s, "load power drawn", below)
        s.record.measure("relay closed", s.meter.state().relay_open, equals=False)
    with s.record.step("load above the limit: trip"):
        cutoff_before = s.meter.last_cutoff_or_none()
        credit = s.meter.remaining()
        raised = s.set_power(above)
        trip = s.watch(lambda st: st.relay_open, "power-limit trip", max_bench_hours=1)
        lowered = s.set_power(below)  # back below the limit while the relay is open
        s.record.measure("relay open", trip.state.relay_open, equals=True)
        s.record.measure("trip seen after the load rose", _seconds(trip.window, raised), "s",
                         description="the trip instant itself is judged by the reconnection")
        if trip.state.power_trip is not None:
            s.record.measure("power-limit flag", trip.state.power_trip, equals=True)
        s.record.measure("no credit cut-off recorded", s.meter.last_cutoff_or_none(),
                         equals=cutoff_before)
        s.record.measure("credit not exhausted", trip.state.remaining, s.unit,
                         low=credit - expect.REGISTER_DIGIT * 100)
    with s.record.step("recovery after the reconnection delay"):
        back = s.watch(lambda st: not st.relay_open, "reconnection", max_bench_hours=1)
        # Reclosing happens at trip + k × delay, k ≥ 1 the first reconnection due after
        # the load was lowered (k = 1 unless this bench took longer than the delay to lower).
        k = max(1, -(-(lowered[1] - raised[0]).total_seconds() // float(delay)))
        mid, half = _elapsed_s(back.window, raised)  # a trip "at once" is at the rise
        s.record.measure("reconnection after the load rose", mid, "s", low=delay - half,
                         high=delay * Decimal(k) + half,
                         description=f"reconnect_delay_s {lim.reconnect_delay_s}; observed "
                                     f"{mid} ± {half} s")
        measure_load_power(s, "load power drawn again", below)
        s.load_off()


def _seconds(event: tuple[datetime, datetime], start: tuple[datetime, datetime]) -> Decimal:
    return Decimal(str(round((event[1] - start[0]).total_seconds(), 3)))


def _elapsed_s(event: tuple[datetime, datetime],
               start: tuple[datetime, datetime]) -> tuple[Decimal, Decimal]:
    mid, half = expect.elapsed_h(event, start)
    return (mid * 3600).quantize(Decimal("0.1")), (half * 3600).quantize(Decimal("0.1"))


def unknown_register_is_answered_with_an_error(s: BenchSteps) -> None:
    """A read of a data identifier the meter does not have gets an abnormal reply with the
    "no requested data" error bit (DL/T 645-2007, abnormal reply and error word), not silence
    a master would wait out and retry, nor data.

    Certifies DL/T 645-2007; Q/GDW 1354-2013 clause 4 (rig.scenarios.cert_citations).
    """
    with s.record.step("read an unassigned data identifier"):
        answer = s.meter.answer_to_unassigned_register()
        s.record.measure("abnormal reply reasons", answer, equals="no requested data")
