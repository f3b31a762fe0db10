"""The prepaid engine of the emulated meter: metrology, credit, alarms and relay.

Pure logic, no I/O, driven by the bench world. Energy is integrated in whole Wh (the
sub-Wh remainder stays in the metrology front end), credit is an exact Decimal, and every
threshold crossing is placed at the exact bench instant it happens, not at the next tick:
alarm and cut-off times are then properties of the meter, not of how often anyone polls it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal
from enum import StrEnum

from rig.profile import CreditKind, MeterProfile


class RelayReason(StrEnum):
    CLOSED = "closed"
    CREDIT_EXHAUSTED = "credit exhausted"


@dataclass
class EventLog:
    """Counters and last-occurrence times, as a meter's event records keep them."""

    alarm1_count: int = 0
    alarm2_count: int = 0
    cutoff_count: int = 0
    tamper_count: int = 0
    power_down_count: int = 0
    last_alarm1: datetime | None = None
    last_alarm2: datetime | None = None
    last_cutoff: datetime | None = None
    last_reconnect: datetime | None = None

    @property
    def alarm_count(self) -> int:
        return self.alarm1_count + self.alarm2_count


@dataclass
class PrepaidEngine:
    """Credit register and relay logic of one prepaid meter, per its profile."""

    profile: MeterProfile
    energy_wh: int = 0
    credit: Decimal = Decimal(0)  # money or kWh per profile; negative = overdraft in use
    price_per_kwh: Decimal = Decimal(0)
    tariff_version: int = 0
    purchase_count: int = 0
    last_sequence: int = 0
    cumulative_purchase: Decimal = Decimal(0)
    relay_closed: bool = False
    relay_reason: RelayReason = RelayReason.CREDIT_EXHAUSTED
    alarm1_active: bool = False
    alarm2_active: bool = False
    events: EventLog = field(default_factory=EventLog)
    _residue_j: float = 0.0  # metrology front end: energy below one Wh, in joules

    def __post_init__(self) -> None:
        if self.price_per_kwh == 0:
            self.price_per_kwh = self.profile.credit.factory_price_per_kwh

    # -- consumption -----------------------------------------------------------------
    @property
    def _money(self) -> bool:
        return self.profile.credit.unit is CreditKind.MONEY

    def _cost_of(self, wh: int) -> Decimal:
        """Credit consumed by `wh` watt-hours (exact)."""
        if self._money:
            return Decimal(wh) * self.price_per_kwh / 1000
        return Decimal(wh) / 1000

    def _wh_until(self, level: Decimal) -> int | None:
        """Whole Wh after which credit is at or below `level`; None if it never will be."""
        above = self.credit - level
        if above <= 0:
            return 0
        per_wh = self._cost_of(1)
        if per_wh <= 0:
            return None
        return int((above / per_wh).to_integral_value(rounding=ROUND_CEILING))

    def _next_event_wh(self) -> int | None:
        t = self.profile.thresholds
        levels = [-t.overdraft_limit]
        if not self.alarm1_active:
            levels.append(t.alarm1)
        if not self.alarm2_active:
            levels.append(t.alarm2)
        candidates = [w for w in (self._wh_until(lv) for lv in levels) if w is not None]
        return min(candidates) if candidates else None

    def _consume(self, wh: int) -> None:
        if wh:
            self.energy_wh += wh
            self.credit -= self._cost_of(wh)

    def advance(self, seconds: float, power_w: Decimal, start: datetime) -> None:
        """Integrate `power_w` through the meter for `seconds` of bench time from `start`.

        The relay gates the power: after a cut-off inside the interval nothing more flows.
        """
        p = float(power_w)
        left = seconds
        t = start
        while left > 0 and p > 0 and self.relay_closed:
            nxt = self._next_event_wh()
            if nxt is not None:
                need_j = max(0.0, nxt * 3600.0 - self._residue_j)
                need_s = need_j / p
                if need_s <= left:
                    self._consume(nxt)
                    self._residue_j = 0.0
                    t += timedelta(seconds=need_s)
                    left -= need_s
                    self._check_events(t)
                    continue
            joules = self._residue_j + p * left
            wh = int(joules // 3600.0)
            self._residue_j = joules - wh * 3600.0
            self._consume(wh)
            left = 0.0
            self._check_events(start + timedelta(seconds=seconds))

    def _check_events(self, at: datetime) -> None:
        t = self.profile.thresholds
        if not self.alarm1_active and self.credit <= t.alarm1:
            self.alarm1_active = True
            self.events.alarm1_count += 1
            self.events.last_alarm1 = at
        if not self.alarm2_active and self.credit <= t.alarm2:
            self.alarm2_active = True
            self.events.alarm2_count += 1
            self.events.last_alarm2 = at
        if self.relay_closed and self.credit <= -t.overdraft_limit:
            self.relay_closed = False
            self.relay_reason = RelayReason.CREDIT_EXHAUSTED
            self.events.cutoff_count += 1
            self.events.last_cutoff = at

    # -- purchases -------------------------------------------------------------------
    def credit_from_units(self, units: int) -> Decimal:
        return self.profile.from_credit_units(units)

    def units(self, amount: Decimal) -> int:
        """Register value in card units, truncated toward zero (what a display shows)."""
        scaled = amount * (100 if self._money else 1000)
        return int(scaled.to_integral_value(rounding=ROUND_DOWN))

    def would_hoard(self, units: int) -> bool:
        return self.credit + self.credit_from_units(units) > self.profile.thresholds.hoarding_limit

    def apply_purchase(self, sequence: int, units: int, at: datetime) -> None:
        """Add purchased credit; the caller has checked sequence, MAC and hoarding."""
        amount = self.credit_from_units(units)
        self.credit += amount
        self.cumulative_purchase += amount
        self.purchase_count += 1
        self.last_sequence = sequence
        t = self.profile.thresholds
        if self.credit > t.alarm1:
            self.alarm1_active = False
        if self.credit > t.alarm2:
            self.alarm2_active = False
        if not self.relay_closed and self.credit > t.close_allowed:
            self.relay_closed = True
            self.relay_reason = RelayReason.CLOSED
            self.events.last_reconnect = at

    def apply_tariff(self, version: int, price_per_kwh: Decimal) -> bool:
        if version <= self.tariff_version:
            return False
        self.tariff_version = version
        self.price_per_kwh = price_per_kwh
        return True

    # -- registers as displayed / read back --------------------------------------------
    @property
    def remaining(self) -> Decimal:
        return max(self.credit, Decimal(0))

    @property
    def overdraft(self) -> Decimal:
        return max(-self.credit, Decimal(0))

    @property
    def energy_kwh(self) -> Decimal:
        return Decimal(self.energy_wh) / 1000

    def seconds_to_exhaustion(self, power_w: Decimal) -> float:
        """Bench seconds until cut-off at a constant power (for progress displays)."""
        wh = self._wh_until(-self.profile.thresholds.overdraft_limit)
        if wh is None or power_w <= 0:
            return math.inf
        return max(0.0, (wh * 3600.0 - self._residue_j) / float(power_w))
