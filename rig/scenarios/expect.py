"""What a meter should do, computed from its profile, the tariff and the load's set point.

Expectations never come from the emulator: they are the profile read as a reference model,
so the same numbers judge a real meter on a real bench.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from rig.profile import CreditKind, MeterProfile

HOUR = Decimal(3600)
REGISTER_DIGIT = Decimal("0.01")  # the coarsest last digit of the credit registers rig reads

# Accuracy class → permitted energy error (fraction): IEC 62053 classes and the MID A/B/C.
CLASS_ERROR = {"0.2S": Decimal("0.002"), "0.5S": Decimal("0.005"), "1": Decimal("0.01"),
               "2": Decimal("0.02"), "A": Decimal("0.02"), "B": Decimal("0.01"),
               "C": Decimal("0.005")}


def class_error(profile: MeterProfile) -> Decimal:
    return CLASS_ERROR[profile.metering.accuracy_class]


def money(profile: MeterProfile) -> bool:
    return profile.credit.unit is CreditKind.MONEY


def kwh_for(profile: MeterProfile, credit: Decimal, price: Decimal) -> Decimal:
    """Energy that spends `credit` (money at `price`, or kWh as it is)."""
    return credit / price if money(profile) else credit


def hours_to_spend(profile: MeterProfile, credit: Decimal, price: Decimal,
                   power_w: Decimal) -> Decimal:
    """Bench hours a constant `power_w` takes to spend `credit`."""
    return kwh_for(profile, credit, price) * 1000 / power_w


def timing_tolerance_h(profile: MeterProfile, hours: Decimal, price: Decimal,
                       power_w: Decimal) -> Decimal:
    """Declared tolerance of a predicted consumption time: the accuracy class, plus the
    register's last digit (0.01 of the credit unit) and one whole Wh of metering."""
    resolution_kwh = kwh_for(profile, Decimal("0.01"), price) + Decimal("0.001")
    return hours * class_error(profile) + resolution_kwh * 1000 / power_w


def amount_for(profile: MeterProfile, credit: Decimal, price: Decimal, *,
               at_least: Decimal = Decimal("1.00"), up: bool = True) -> Decimal:
    """Money to pay for about `credit` (rounded to cents, up or down), at least `at_least`."""
    raw = credit if money(profile) else credit * price
    cents = raw.quantize(Decimal("0.01"), rounding=ROUND_CEILING if up else ROUND_FLOOR)
    return max(cents, at_least)


def friendly_at(profile: MeterProfile, at: datetime) -> bool:
    fp = profile.friendly_periods
    return fp is not None and fp.contains(at)


def next_friendly_period(profile: MeterProfile, now: datetime) -> tuple[datetime, datetime]:
    """Start and end of the next friendly period that starts after `now`."""
    fp = profile.friendly_periods
    if fp is None:
        raise ValueError(f"profile {profile.name} has no friendly periods")
    t = now
    if fp.contains(t):
        t = fp.next_change(t)
    start = fp.next_change(t)
    return start, fp.next_change(start)


def friendly_period_end(profile: MeterProfile, at: datetime) -> datetime | None:
    """When the friendly period(s) holding `at` end, or None if `at` is outside them."""
    fp = profile.friendly_periods
    if fp is None or not fp.contains(at):
        return None
    while fp.contains(at):  # back-to-back periods (a night, then a weekend) chain up
        at = fp.next_change(at)
    return at


def cutoff_energy_kwh(profile: MeterProfile, credit: Decimal, price: Decimal) -> Decimal:
    """Energy from a credit balance to the cut-off: the credit, the overdraft and any
    automatic emergency credit lent on the way (outside friendly periods)."""
    lent = automatic_emergency(profile)
    return kwh_for(profile, credit + profile.thresholds.overdraft_limit + lent, price)


def automatic_emergency(profile: MeterProfile) -> Decimal:
    """What the meter lends by itself instead of cutting off (0 without automatic credit)."""
    ec = profile.emergency_credit
    return ec.amount if ec is not None and ec.activation == "automatic" else Decimal(0)


def hours(delta: timedelta) -> Decimal:
    return Decimal(str(round(delta.total_seconds(), 3))) / HOUR


def elapsed_h(event: tuple[datetime, datetime],
              start: tuple[datetime, datetime]) -> tuple[Decimal, Decimal]:
    """Bench hours from `start` to `event`, both bracketed: (midpoint, half-width)."""
    low = hours(event[0] - start[1])
    high = hours(event[1] - start[0])
    return ((low + high) / 2).quantize(Decimal("0.0001")), \
        ((high - low) / 2).quantize(Decimal("0.0001"), rounding=ROUND_CEILING)
