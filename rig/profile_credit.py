"""A meter profile's prepaid rules: what the credit register counts and how exactly, the
alarm and hoarding thresholds, emergency credit, friendly periods and the power limit.

Amounts are exact decimals: a TOML float is refused (``NotFloat``), so a profile says exactly
what the meter is certified for. :mod:`rig.profile` puts these sections together.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, field_serializer, field_validator, model_validator

from rig.meter.protocol_settings import Strict


class CreditKind(StrEnum):
    """What the meter's credit register counts."""

    MONEY = "money"
    ENERGY = "energy"




def _not_float(value: object) -> object:
    """TOML reads `10.1` as a binary float, which is not 10.1: amounts are written as strings
    ("10.10") or integers, so the profile says exactly what the meter is certified for."""
    if isinstance(value, float):
        raise ValueError(f"{value!r} is a TOML float, which is not exact: write the amount as a "
                         f'string, e.g. "{value}"')
    return value


NotFloat = BeforeValidator(_not_float)
# Constraints before the validator, so pydantic checks them on the decimal itself (its messages
# then read "less than or equal to 429496.7295", not the Decimal's repr).
ExactDecimal = Annotated[Decimal, NotFloat]
NonNegative = Annotated[Decimal, Field(ge=0), NotFloat]
Positive = Annotated[Decimal, Field(gt=0), NotFloat]
AlarmAction = Literal["display", "buzzer", "relay_trip"]


class Credit(Strict):
    unit: CreditKind
    currency: str = "CNY"
    resolution: ExactDecimal = Field(description="smallest credit step on card and register")
    # At most what a card's tariff record carries: u32 × 0.0001 (docs/card-spec.md).
    factory_price_per_kwh: Annotated[Decimal, Field(
        ge=0, le=Decimal("429496.7295"), decimal_places=4,
        description="unit price the meter uses until a card brings a tariff (money meters)"),
        NotFloat]

    @field_validator("resolution")
    @classmethod
    def _resolution(cls, v: Decimal) -> Decimal:
        if v not in (Decimal("0.01"), Decimal("1")):
            raise ValueError("must be 0.01 (money cents) or 1 (energy Wh)")
        return v


class Thresholds(Strict):
    """Credit levels in the profile's credit unit (money or kWh) and what the alarms do."""

    alarm1: NonNegative
    alarm2: NonNegative
    alarm1_actions: frozenset[AlarmAction] = frozenset({"display", "buzzer"})
    alarm2_actions: frozenset[AlarmAction] = frozenset({"display", "buzzer"})
    overdraft_limit: NonNegative = Decimal(0)
    hoarding_limit: NonNegative
    close_allowed: NonNegative = Decimal(0)

    @field_serializer("alarm1_actions", "alarm2_actions")
    def _sorted_actions(self, actions: frozenset[str]) -> list[str]:
        """A set has no order; dumped (e.g. into the meter's NVM image) it gets a stable one."""
        return sorted(actions)

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.alarm2 > self.alarm1:
            raise ValueError("alarm2 must not exceed alarm1 (alarm 2 is the lower, later one)")
        if self.hoarding_limit <= self.alarm1:
            raise ValueError("hoarding_limit must be above alarm1")
        if "relay_trip" in self.alarm1_actions:
            raise ValueError("alarm1_actions: relay_trip is only allowed on alarm 2 "
                             "(alarm 1 warns, alarm 2 may trip)")
        if self.close_allowed >= self.hoarding_limit:
            raise ValueError("close_allowed must be below hoarding_limit, or no purchase "
                             "could ever close the relay")
        return self


class EmergencyCredit(Strict):
    """Credit the meter lends once when it runs out; repaid first from the next purchase."""

    amount: Positive
    activation: Literal["automatic", "on_request"] = Field(
        description="automatic: granted instead of the cut-off; on_request: the customer asks "
                    "(key press) once credit is at or below alarm 2")


class TimeWindow(Strict):
    """A daily window in meter clock time; end before start wraps past midnight."""

    start: time
    end: time

    @model_validator(mode="after")
    def _not_empty(self) -> TimeWindow:
        if self.start == self.end:
            raise ValueError("start and end are equal: an empty window")
        return self


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class FriendlyPeriods(Strict):
    """When the meter must not cut off (nights, weekends, holidays): it cuts off at the end."""

    hours: tuple[TimeWindow, ...] = ()
    weekdays: frozenset[Weekday] = frozenset()
    holidays: frozenset[date] = frozenset()

    @model_validator(mode="after")
    def _something(self) -> FriendlyPeriods:
        if not (self.hours or self.weekdays or self.holidays):
            raise ValueError("no hours, weekdays or holidays: remove the section instead")
        return self

    def contains(self, at: datetime) -> bool:
        """Is `at` (meter clock time) inside a friendly period?"""
        d = at.date()
        if d in self.holidays or _WEEKDAYS[d.weekday()] in self.weekdays:
            return True
        t = at.time().replace(tzinfo=None)
        for w in self.hours:
            if (w.start <= t < w.end) if w.start < w.end else (t >= w.start or t < w.end):
                return True
        return False

    def next_change(self, at: datetime) -> datetime:
        """The first instant after `at` where contains() changes (at most 8 days ahead)."""
        inside = self.contains(at)
        day0 = at.replace(hour=0, minute=0, second=0, microsecond=0)
        marks = [day0 + timedelta(days=n) for n in range(1, 9)]
        for n in range(0, 9):
            base = day0 + timedelta(days=n)
            for w in self.hours:
                marks += [datetime.combine(base.date(), w.start, at.tzinfo),
                          datetime.combine(base.date(), w.end, at.tzinfo)]
        for m in sorted(x for x in marks if x > at):
            if self.contains(m) != inside:
                return m
        return at + timedelta(days=8)


class PowerLimit(Strict):
    """Load-limit trip: the relay opens above the limit and recloses after the delay."""

    max_power_w: Positive | None = None
    max_current_a: Positive | None = None
    reconnect_delay_s: Annotated[int, Field(ge=1, le=86400)] = 60

    @model_validator(mode="after")
    def _one_limit(self) -> PowerLimit:
        if self.max_power_w is None and self.max_current_a is None:
            raise ValueError("give max_power_w or max_current_a")
        return self
