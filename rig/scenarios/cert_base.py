"""What every certification scenario shares: commissioning, register snapshots, timed
measurements with declared tolerances, and the consumption power of the bench."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from rig.bench.courier import Delivery
from rig.errors import RigError
from rig.load.driver import InstrumentError
from rig.meter.card_errors import ILLEGAL, CardErrorCode, describe
from rig.scenarios import expect
from rig.scenarios.steps import BenchSteps, MeterState, Observed

MAX_PERIODS_WAITED = 30  # a month of nightly periods: more means no stretch is long enough

PRICE = Decimal("0.5283")
NO_CURRENT_A = Decimal("0.05")  # what "no current" means at the load after a trip
RECORD_RESOLUTION = timedelta(seconds=1)  # event records carry YYMMDDhhmmss


@dataclass(frozen=True)
class Registers:
    """The registers a refusal must leave untouched."""

    remaining: Decimal
    energy_kwh: Decimal
    relay_open: bool


def snapshot(s: BenchSteps) -> Registers:
    state = s.meter.state()
    return Registers(state.remaining, s.meter.energy_kwh(), state.relay_open)


def insert_refused(s: BenchSteps, reason: CardErrorCode) -> Delivery:
    """Insert a card the meter must refuse, and check the meter reports the refusal over its
    protocol: counted once, time-stamped during the insertion, and (where the protocol says
    why, as DL/T 645's abnormal card insertion record does) with `reason` as its card error
    code and counted as illegal exactly when that code is one."""
    before = s.meter.card_refusals()
    start = s.bench.now()
    delivery = s.insert_into_meter(expect_accepted=False)
    end = s.bench.now()
    after = s.meter.card_refusals()
    s.record.measure("refused insertions counted by the meter", after.count,
                     equals=before.count + 1)
    if after.last_at is None:
        s.record.measure("last refusal time recorded", False, equals=True)
    else:
        span = Decimal(str((end - start).total_seconds())).quantize(Decimal("0.001"))
        s.record.measure("last refusal after the insertion began (meter clock)",
                         Decimal(str((after.last_at - start).total_seconds())), "s",
                         low=-Decimal(RECORD_RESOLUTION.total_seconds()), high=span,
                         description=f"insertion from {start.isoformat()} to "
                                     f"{end.isoformat()}")
    if after.last_reason is not None:
        s.record.measure("last refusal reason (card error code)", describe(after.last_reason),
                         equals=describe(reason))
    if before.illegal is not None and after.illegal is not None:
        s.record.measure("illegal insertions counted by the meter", after.illegal,
                         equals=before.illegal + (1 if reason in ILLEGAL else 0))
    return delivery


def commission(s: BenchSteps) -> None:
    with s.record.step("commission meter and issue card"):
        s.register(PRICE)
        s.record.measure("card bound to meter", s.issue_card(), equals=s.meter_no)


def consumption_power(s: BenchSteps) -> Decimal:
    """The bench's consumption power (its load setting per phase of the meter), kept below
    the meter's power limit if it has one."""
    power = Decimal(s.bench.config.load.power_w) * s.bench.profile.metering.phases
    lim = s.bench.profile.power_limit
    if lim is not None and lim.max_power_w is not None:
        power = min(power, lim.max_power_w * Decimal("0.8"))
    return power


def measure_load_power(s: BenchSteps, name: str, power_w: Decimal) -> None:
    drawn = s.bench.load.measure().power
    s.record.measure(name, drawn, "W", low=power_w * Decimal("0.98"),
                     high=power_w * Decimal("1.02"))


def measure_no_current(s: BenchSteps, name: str = "load current with the relay open") -> None:
    s.record.measure(name, abs(s.bench.load.measure().current), "A", high=NO_CURRENT_A)


def measure_timing(s: BenchSteps, name: str, event: tuple[datetime, datetime],
                   start: tuple[datetime, datetime], predicted_h: Decimal,
                   tolerance_h: Decimal) -> Decimal:
    """Record an observed bench time against its prediction and declared tolerance.

    The limits widen by the observation's own bracket (how far apart the polls around the
    event were), so a slow machine loosens the reading, never the requirement."""
    mid, half = expect.elapsed_h(event, start)
    predicted = predicted_h.quantize(Decimal("0.0001"))
    tol = tolerance_h.quantize(Decimal("0.0001"))
    s.record.measure(name, mid, "h", low=predicted - tol - half, high=predicted + tol + half,
                     description=f"predicted {predicted} h ± {tol} h (declared); observed "
                                 f"{mid} ± {half} h")
    return mid


def alarm1_seen(s: BenchSteps) -> Callable[[MeterState], bool]:
    """Alarm 1 as the meter reports it: its status bit, or (DL/T 645 status word 3 has
    none) the remaining credit at or below the level."""
    level = s.bench.profile.thresholds.alarm1

    def seen(m: MeterState) -> bool:
        return m.alarm1 if m.alarm1 is not None else m.remaining <= level

    return seen


def measure_alarm_level(s: BenchSteps, alarm: str, seen: Observed, level: Decimal | int,
                        description: str = "") -> None:
    """The credit the poll that first saw ``alarm`` read is at or below its ``level``, and the
    poll before it (if any) read it above: the alarm came at its level, not early or late."""
    s.record.measure(f"remaining credit at {alarm}", seen.state.remaining, s.unit, high=level)
    if seen.before is not None:
        s.record.measure(f"remaining credit just before {alarm}",
                         seen.before.remaining_without_flags, s.unit, low=level,
                         description=description)


def trips_at_alarm2(s: BenchSteps, at: datetime) -> bool:
    p = s.bench.profile
    return "relay_trip" in p.thresholds.alarm2_actions and not expect.friendly_at(p, at)


def clear_alarm2_trip(s: BenchSteps) -> None:
    """Credit already at or below alarm 2 trips a relay_trip meter at once: the customer
    inserts the card again to close it (as the profile says a card does)."""
    p = s.bench.profile
    if "relay_trip" not in p.thresholds.alarm2_actions:
        return
    state = s.meter.state()
    if state.relay_open and state.pre_trip_alarm and state.remaining > 0:
        delivery = s.insert_into_meter()
        s.record.measure("alarm-2 trip cleared by the card", delivery.accepted and
                         not s.meter.state().relay_open, equals=True)


def outside_friendly_periods(s: BenchSteps, hours: Decimal) -> None:
    """Let the meter's clock pass any friendly period in the next `hours` (plus two hours of
    slack), so credit rules act without its exemption; a no-op for a meter without them."""
    fp = s.bench.profile.friendly_periods
    if fp is None:
        return
    span = timedelta(hours=float(hours) + 2)
    for _ in range(MAX_PERIODS_WAITED):
        now = s.bench.now()
        if fp.contains(now):
            end = fp.next_change(now)
        else:
            start = fp.next_change(now)
            if start > now + span:
                return
            end = fp.next_change(start)
        with s.record.step("wait for the meter's friendly period to pass"):
            s.record.measure("friendly period ends at (meter clock)", end.isoformat())
            s.wait_until(end)
    raise RigError(f"no stretch of {hours} h outside the meter's friendly periods in the next "
                   f"{MAX_PERIODS_WAITED} of them: the scenario must spend its credit faster")


def longest_free_hours(s: BenchSteps, days: int = 14) -> Decimal | None:
    """The longest stretch outside the profile's friendly periods in the next ``days`` (None:
    the profile has none, so any stretch is free)."""
    fp = s.bench.profile.friendly_periods
    if fp is None:
        return None
    at = s.bench.now()
    until = at + timedelta(days=days)
    best = timedelta(0)
    while at < until:
        change = fp.next_change(at)
        if not fp.contains(at):
            best = max(best, change - at)
        at = change
    return Decimal(best.total_seconds() / 3600).quantize(Decimal("0.001"))


def load_energy_wh(s: BenchSteps) -> Decimal | None:
    """The load's own energy register (Wh), or None if this load model keeps none."""
    try:
        return s.bench.load.energy_wh()
    except InstrumentError as e:
        s.record.measure("load energy register", f"not available: {e}")
        return None


def energy_agrees(s: BenchSteps, label: str, meter_wh: int, load_wh: Decimal) -> None:
    """Meter energy (readback, whole Wh) against the load's reading: the accuracy class,
    plus the meter's 1 Wh resolution at each end."""
    tolerance = (load_wh * expect.class_error(s.bench.profile)).quantize(Decimal("0.001")) + 2
    s.record.measure(f"{label} meter energy vs load energy", Decimal(meter_wh) - load_wh, "Wh",
                     low=-tolerance, high=tolerance,
                     description=f"meter {meter_wh} Wh, load {load_wh} Wh, class "
                                 f"{s.bench.profile.metering.accuracy_class}")
