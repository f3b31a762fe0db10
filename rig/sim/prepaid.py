"""The prepaid engine of the emulated meter: metrology, credit, alarms and relay.

Pure logic, no I/O, driven by the bench world. Energy is integrated in whole Wh (the
sub-Wh remainder stays in the metrology front end), credit is an exact Decimal, and every
threshold crossing is placed at the exact bench instant it happens, not at the next tick:
alarm and cut-off times are then properties of the meter, not of how often anyone polls it.

Two registers hold credit. `credit` is what the relay logic spends (it includes emergency
credit on loan); `balance = credit - emergency_outstanding` is the customer's own money, and
`remaining`/`overdraft` show it. So purchases = consumed + remaining - overdraft holds exactly,
with or without emergency credit, and a billing centre never needs to know about the loan.
How the registers read (balance, remaining, card units, a readback's values, the event
counters) is credit_registers.py's, the base of PrepaidEngine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from enum import StrEnum

from pydantic import ValidationError

from rig.profile import MeterProfile, Thresholds
from rig.sim.credit_registers import CreditRegisters, EventLog


class RelayReason(StrEnum):
    """Why the relay is in its state; each open reason has its own way back."""

    CLOSED = "closed"
    CREDIT_EXHAUSTED = "credit exhausted"  # a purchase above close_allowed recloses
    ALARM2_TRIP = "alarm 2 trip"  # a card insertion recloses
    POWER_LIMIT = "power limit"  # recloses by itself after the reconnection delay
    REMOTE = "remote trip"  # a remote close command recloses


_CREDIT_REASONS = (RelayReason.CREDIT_EXHAUSTED, RelayReason.ALARM2_TRIP)


@dataclass
class PrepaidEngine(CreditRegisters):
    """Credit register and relay logic of one prepaid meter, per its profile."""

    profile: MeterProfile
    energy_wh: int = 0
    credit: Decimal = Decimal(0)  # money or kWh per profile; negative = overdraft in use
    price_per_kwh: Decimal = Decimal(0)
    tariff_version: int = 0
    purchase_count: int = 0
    last_sequence: int = 0
    cumulative_purchase: Decimal = Decimal(0)
    emergency_outstanding: Decimal = Decimal(0)  # lent and not yet repaid by a purchase
    relay_closed: bool = False
    relay_reason: RelayReason = RelayReason.CREDIT_EXHAUSTED
    alarm1_active: bool = False
    alarm2_active: bool = False
    reconnect_at: datetime | None = None  # end of a power-limit trip
    events: EventLog = field(default_factory=EventLog)
    _residue_j: float = 0.0  # metrology front end: energy below one Wh, in joules

    def __post_init__(self) -> None:
        if self.price_per_kwh == 0:
            self.price_per_kwh = self.profile.credit.factory_price_per_kwh

    # -- consumption -----------------------------------------------------------------
    @property
    def _cutoff_level(self) -> Decimal:
        return -self.acting_levels().overdraft_limit

    def acting_levels(self) -> Thresholds:
        """The levels the alarm, relay and emergency-credit logic act on: the profile's (and
        what parameter cards set). A mutant meter (rig.sim.defects) acts on others while its
        registers still show these."""
        return self.profile.thresholds

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

    def in_friendly_period(self, at: datetime) -> bool:
        fp = self.profile.friendly_periods
        return fp is not None and fp.contains(at)

    def _next_event_wh(self, at: datetime) -> int | None:
        t = self.acting_levels()
        levels = []
        if not self.in_friendly_period(at):
            levels.append(self._cutoff_level)
        if not self.alarm1_active:
            levels.append(t.alarm1)
        if not self.alarm2_active:
            levels.append(t.alarm2)
        candidates = [w for w in (self._wh_until(lv) for lv in levels) if w is not None]
        return min(candidates) if candidates else None

    def _next_timed(self, at: datetime) -> datetime | None:
        """The next instant something happens by the clock alone."""
        marks = []
        if self.reconnect_at is not None:
            marks.append(self.reconnect_at)
        fp = self.profile.friendly_periods
        if fp is not None and self.relay_closed:
            marks.append(fp.next_change(at))
        return min(marks) if marks else None

    def _over_limit(self, power_w: Decimal) -> bool:
        lim = self.profile.power_limit
        if lim is None:
            return False
        if lim.max_power_w is not None and power_w > lim.max_power_w:
            return True
        if lim.max_current_a is not None:
            m = self.profile.metering
            amps = power_w / (m.nominal_voltage * m.phases)
            return amps > lim.max_current_a
        return False

    def _consume(self, wh: int) -> None:
        if wh:
            self.energy_wh += wh
            self.credit -= self._cost_of(wh)

    def advance(self, seconds: float, power_w: Decimal, start: datetime) -> None:
        """Integrate `power_w` through the meter for `seconds` of bench time from `start`.

        The relay gates the power: after a trip inside the interval nothing more flows.
        Clock events (end of a power-limit trip, start or end of a friendly period) are
        handled at their instant; the power of the interval is what the world measured at
        its start, so a load reconnected mid-interval draws from the next one on.
        """
        p = float(power_w)
        left = seconds
        t = start
        while left > 0:
            if self.relay_closed and p > 0 and self._over_limit(power_w):
                self._power_trip(t)
            timed = self._next_timed(t)
            span = left if timed is None else min(left, max(0.0, (timed - t).total_seconds()))
            if self.relay_closed and p > 0:
                nxt = self._next_event_wh(t)
                if nxt is not None:
                    need_s = max(0.0, nxt * 3600.0 - self._residue_j) / p
                    if need_s <= span:
                        self._consume(nxt)
                        self._residue_j = 0.0
                        t += timedelta(seconds=need_s)
                        left -= need_s
                        self._check_events(t)
                        continue
                joules = self._residue_j + p * span
                wh = int(joules // 3600.0)
                self._residue_j = joules - wh * 3600.0
                self._consume(wh)
            t = timed if timed is not None and span < left else t + timedelta(seconds=span)
            left -= span
            self._on_clock(t)
            self._check_events(t)

    def _on_clock(self, at: datetime) -> None:
        if self.reconnect_at is not None and at >= self.reconnect_at:
            self.reconnect_at = None
            if not self.relay_closed and self.relay_reason is RelayReason.POWER_LIMIT:
                self._close(at)

    def _check_events(self, at: datetime) -> None:
        t = self.acting_levels()
        friendly = self.in_friendly_period(at)
        if not self.alarm1_active and self.credit <= t.alarm1:
            self.alarm1_active = True
            self.events.alarm1_count += 1
            self.events.last_alarm1 = at
        if not self.alarm2_active and self.credit <= t.alarm2:
            self.alarm2_active = True
            self.events.alarm2_count += 1
            self.events.last_alarm2 = at
            if "relay_trip" in t.alarm2_actions and self.relay_closed and not friendly:
                self._open(RelayReason.ALARM2_TRIP, at)
        if self.relay_closed and self.credit <= self._cutoff_level and not friendly:
            ec = self.profile.emergency_credit
            if (ec and ec.activation == "automatic" and self.emergency_outstanding == 0
                    and self.credit + ec.amount > self._cutoff_level):
                self._lend_emergency(at)  # lent instead of the cut-off
            else:
                self._open(RelayReason.CREDIT_EXHAUSTED, at)

    def _open(self, reason: RelayReason, at: datetime) -> None:
        if reason is RelayReason.CREDIT_EXHAUSTED:
            self.events.cutoff_count += 1
            self.events.last_cutoff = at
        self.relay_closed = False
        self.relay_reason = reason

    def _close(self, at: datetime) -> None:
        self.relay_closed = True
        self.relay_reason = RelayReason.CLOSED
        self.events.last_reconnect = at

    def _power_trip(self, at: datetime) -> None:
        lim = self.profile.power_limit
        assert lim is not None
        self._open(RelayReason.POWER_LIMIT, at)
        self.reconnect_at = at + timedelta(seconds=lim.reconnect_delay_s)
        self.events.power_trip_count += 1
        self.events.last_power_trip = at

    def _lend_emergency(self, at: datetime) -> None:
        ec = self.profile.emergency_credit
        assert ec is not None
        self.credit += ec.amount
        self.emergency_outstanding += ec.amount
        self.events.emergency_count += 1
        self.events.last_emergency = at
        t = self.acting_levels()
        if self.credit > t.alarm1:
            self.alarm1_active = False
        if self.credit > t.alarm2:
            self.alarm2_active = False

    def resume(self, at: datetime) -> None:
        """Power-up after an outage: what the clock brought while the meter was dark (the end
        of a power-limit trip or of a friendly period) takes effect now."""
        self._on_clock(at)
        self._check_events(at)

    # -- customer actions --------------------------------------------------------------
    def request_emergency_credit(self, at: datetime) -> bool:
        """The customer asks for emergency credit (key press); True if it was granted.

        Granted once until a purchase repays it, and only when credit is low (at or below
        alarm 2). It recloses a relay opened for lack of credit.
        """
        ec = self.profile.emergency_credit
        if ec is None or ec.activation != "on_request" or self.emergency_outstanding > 0:
            return False
        if self.credit > self.acting_levels().alarm2:
            return False
        self._lend_emergency(at)
        if (not self.relay_closed and self.relay_reason in _CREDIT_REASONS
                and self.credit > self._cutoff_level):
            self._close(at)
        return True

    def card_inserted(self, at: datetime) -> bool:
        """A valid card of this meter was inserted: clears an alarm-2 trip. True if reclosed."""
        if (not self.relay_closed and self.relay_reason is RelayReason.ALARM2_TRIP
                and self.credit > self._cutoff_level):
            self._close(at)
            return True
        return False

    def remote_relay(self, close: bool, at: datetime) -> None:
        """A remote trip holds the relay open until a remote close (credit rules still apply)."""
        if not close:
            self._open(RelayReason.REMOTE, at)
        elif not self.relay_closed and self.relay_reason is RelayReason.REMOTE:
            if self.credit > self._cutoff_level:
                self._close(at)
            else:
                self.relay_reason = RelayReason.CREDIT_EXHAUSTED

    # -- purchases (the card reader's MeterWallet, rig.card_formats.interface) ----------
    def would_hoard(self, units: int) -> bool:
        return self.balance + self.credit_from_units(units) > self.acting_levels().hoarding_limit

    def apply_purchase(self, sequence: int, units: int, at: datetime) -> None:
        """Add purchased credit, repaying emergency credit first.

        The caller has checked sequence, MAC and hoarding.
        """
        amount = self.credit_from_units(units)
        repay = min(amount, self.emergency_outstanding)
        self.emergency_outstanding -= repay
        self.credit += amount - repay
        self.cumulative_purchase += amount
        self.purchase_count += 1
        self.last_sequence = sequence
        t = self.acting_levels()
        if self.credit > t.alarm1:
            self.alarm1_active = False
        if self.credit > t.alarm2:
            self.alarm2_active = False
        if (not self.relay_closed and self.relay_reason in _CREDIT_REASONS
                and self.credit > t.close_allowed and self.credit > self._cutoff_level):
            self._close(at)

    def thresholds_with(self, **levels: Decimal) -> Thresholds:
        """The thresholds with `levels` changed, validated as a profile's are; ValueError if
        not (so a card can be refused before anything changes)."""
        try:
            return Thresholds.model_validate({**self.profile.thresholds.model_dump(), **levels})
        except ValidationError as e:
            raise ValueError(f"parameter levels refused: {e.errors()[0]['msg']}") from None

    def set_thresholds(self, **levels: Decimal) -> None:
        """New alarm/limit levels from a parameter card (alarm1, alarm2, overdraft_limit,
        hoarding_limit, close_allowed); an alarm whose new level is below the credit clears,
        one above it is raised at the next integration step."""
        t = self.thresholds_with(**levels)
        self.profile = self.profile.model_copy(update={"thresholds": t})
        if self.credit > t.alarm1:
            self.alarm1_active = False
        if self.credit > t.alarm2:
            self.alarm2_active = False

    def apply_tariff(self, version: int, price_per_kwh: Decimal) -> bool:
        if version <= self.tariff_version:
            return False
        self.tariff_version = version
        self.price_per_kwh = price_per_kwh
        return True

    # -- registers as displayed (the rest: CreditRegisters) ------------------------------
    def seconds_to_exhaustion(self, power_w: Decimal) -> float:
        """Bench seconds until cut-off at a constant power (for progress displays)."""
        wh = self._wh_until(self._cutoff_level)
        if wh is None or power_w <= 0:
            return math.inf
        return max(0.0, (wh * 3600.0 - self._residue_j) / float(power_w))
