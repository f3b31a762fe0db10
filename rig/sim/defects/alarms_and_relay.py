"""Defects of the prepaid engine's relay decisions: alarm levels, the cut-off and reclosing,
emergency credit, friendly periods and the power limit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

from rig.profile import Thresholds
from rig.sim.defects.applies_to import (
    alarm1_reported,
    below_cutoff_recloses,
    capability,
    emergency_credit,
    overdraft,
    relay_trip,
)
from rig.sim.defects.entry import Defect
from rig.sim.defects.parts import Install, engine
from rig.sim.defects.requirements import ALARMS, CUTOFF, EMERGENCY, FRIENDLY, POWER
from rig.sim.prepaid import PrepaidEngine, RelayReason

TENTH = Decimal("0.1")


def levels(**change: Callable[[Thresholds], object]) -> Install:
    """The alarm/relay logic acts on levels other than those the meter shows."""
    class Shifted(PrepaidEngine):
        def acting_levels(self) -> Thresholds:
            t = super().acting_levels()
            return t.model_copy(update={k: f(t) for k, f in change.items()})
    return engine(Shifted)


def _cutoff_shift(t: Thresholds) -> Decimal:
    return t.alarm2 * TENTH


class UnpaidReclose(PrepaidEngine):
    """Recloses a relay opened for lack of credit, and then keeps it closed until the next
    purchase (the credit check is skipped after such a reclose)."""

    _unpaid_reclose: bool = False

    def _reclose_unpaid(self, at: datetime) -> bool:
        if self.relay_closed or self.relay_reason is not RelayReason.CREDIT_EXHAUSTED:
            return False
        self._unpaid_reclose = True
        self._close(at)
        return True

    def _check_events(self, at: datetime) -> None:
        if self._unpaid_reclose and self.relay_closed:
            return
        super()._check_events(at)

    def _next_event_wh(self, at: datetime) -> int | None:
        if self._unpaid_reclose and self.relay_closed:
            return None  # nothing stops the supply now: it runs on until the next purchase
        return super()._next_event_wh(at)

    def apply_purchase(self, sequence: int, units: int, at: datetime) -> None:
        self._unpaid_reclose = False
        super().apply_purchase(sequence, units, at)


class _RecloseWithoutCredit(UnpaidReclose):
    """A card insertion recloses a relay opened for lack of credit."""

    def card_inserted(self, at: datetime) -> bool:
        return self._reclose_unpaid(at) or super().card_inserted(at)


class _AlarmTripNotCleared(PrepaidEngine):
    def card_inserted(self, at: datetime) -> bool:
        return False


class _CloseAllowedIgnored(PrepaidEngine):
    """Any purchase recloses while credit is above the cut-off level (close-allowed ignored)."""

    def apply_purchase(self, sequence: int, units: int, at: datetime) -> None:
        super().apply_purchase(sequence, units, at)
        if not self.relay_closed and self.relay_reason in (
                RelayReason.CREDIT_EXHAUSTED, RelayReason.ALARM2_TRIP) \
                and self.credit > self._cutoff_level:
            self._close(at)


class _NoRecloseAfterPurchase(PrepaidEngine):
    def _close(self, at: datetime) -> None:
        if self.relay_reason is RelayReason.CREDIT_EXHAUSTED:
            return
        super()._close(at)


class _EmergencyAboveAlarm2(PrepaidEngine):
    def acting_levels(self) -> Thresholds:
        t = super().acting_levels()
        return t.model_copy(update={"alarm2": t.alarm1 * 10})


class _EmergencyTwice(PrepaidEngine):
    def request_emergency_credit(self, at: datetime) -> bool:
        outstanding, self.emergency_outstanding = self.emergency_outstanding, Decimal(0)
        granted = super().request_emergency_credit(at)
        self.emergency_outstanding += outstanding
        return granted


class _EmergencyRefused(PrepaidEngine):
    def _lend_emergency(self, at: datetime) -> None:
        if self.relay_closed:  # automatic: cut off instead of lending
            self._open(RelayReason.CREDIT_EXHAUSTED, at)

    def request_emergency_credit(self, at: datetime) -> bool:
        return False


class _EmergencyForgiven(PrepaidEngine):
    def apply_purchase(self, sequence: int, units: int, at: datetime) -> None:
        self.emergency_outstanding = Decimal(0)  # the loan written off: the customer keeps it
        super().apply_purchase(sequence, units, at)


class _EmergencyShort(PrepaidEngine):
    def _lend_emergency(self, at: datetime) -> None:
        super()._lend_emergency(at)
        ec = self.profile.emergency_credit
        assert ec is not None
        half = (ec.amount / 2).quantize(self.profile.credit.resolution)
        self.credit -= half  # only the other half was lent
        self.emergency_outstanding -= half


class _FriendlyIgnored(PrepaidEngine):
    def in_friendly_period(self, at: datetime) -> bool:
        return False


class _FriendlyEndsLate(PrepaidEngine):
    def in_friendly_period(self, at: datetime) -> bool:
        return super().in_friendly_period(at) or super().in_friendly_period(
            at - timedelta(hours=1))


class _PowerLimitIgnored(PrepaidEngine):
    def _over_limit(self, power_w: Decimal) -> bool:
        return False


class _PowerLimitLow(PrepaidEngine):
    def _over_limit(self, power_w: Decimal) -> bool:
        return super()._over_limit(power_w * Decimal("2.5"))  # trips at 0.4 x the limit


class _ReconnectsEarly(PrepaidEngine):
    def _power_trip(self, at: datetime) -> None:
        super()._power_trip(at)
        lim = self.profile.power_limit
        assert lim is not None
        self.reconnect_at = at + timedelta(seconds=lim.reconnect_delay_s / 2)


class _PowerTripIsCutoff(PrepaidEngine):
    def _power_trip(self, at: datetime) -> None:
        super()._power_trip(at)
        self.events.cutoff_count += 1
        self.events.last_cutoff = at


DEFECTS = (
    Defect("alarm1-early", ALARMS, "alarm 1 raised at 110 % of its level",
           levels(alarm1=lambda t: t.alarm1 * (1 + TENTH)), alarm1_reported),
    Defect("alarm1-late", ALARMS, "alarm 1 raised at 90 % of its level",
           levels(alarm1=lambda t: t.alarm1 * (1 - TENTH)), alarm1_reported),
    Defect("alarm2-early", ALARMS, "alarm 2 raised at 110 % of its level",
           levels(alarm2=lambda t: t.alarm2 * (1 + TENTH))),
    Defect("alarm2-late", ALARMS, "alarm 2 raised at 90 % of its level",
           levels(alarm2=lambda t: t.alarm2 * (1 - TENTH))),
    Defect("alarm2-trip-missing", ALARMS, "alarm 2 does not trip the relay the profile trips",
           levels(alarm2_actions=lambda t: t.alarm2_actions - {"relay_trip"}), relay_trip),
    Defect("alarm2-trip-spurious", ALARMS, "alarm 2 trips the relay though the profile "
           "does not", levels(alarm2_actions=lambda t: t.alarm2_actions | {"relay_trip"}),
           lambda p: not relay_trip(p)),
    Defect("alarm2-trip-not-cleared", ALARMS, "a card insertion does not reclose an alarm-2 "
           "trip", engine(_AlarmTripNotCleared), relay_trip),
    Defect("cutoff-early", CUTOFF, "relay opens before credit reaches the cut-off level "
           "(10 % of alarm 2 early)",
           levels(overdraft_limit=lambda t: t.overdraft_limit - _cutoff_shift(t))),
    Defect("cutoff-late", CUTOFF, "relay stays closed past the cut-off level (10 % of alarm 2)",
           levels(overdraft_limit=lambda t: t.overdraft_limit + _cutoff_shift(t))),
    Defect("overdraft-ignored", CUTOFF, "cut-off at zero credit although overdraft is allowed",
           levels(overdraft_limit=lambda t: Decimal(0)), overdraft),
    Defect("reclose-without-credit", CUTOFF, "a card without a purchase recloses a relay "
           "opened for lack of credit", engine(_RecloseWithoutCredit)),
    Defect("close-allowed-ignored", CUTOFF, "a purchase leaving credit at or below "
           "close-allowed recloses the relay", engine(_CloseAllowedIgnored),
           below_cutoff_recloses),
    Defect("no-reclose-after-purchase", CUTOFF, "a purchase never recloses a relay opened for "
           "lack of credit", engine(_NoRecloseAfterPurchase)),
    Defect("emergency-credit-above-alarm2", EMERGENCY, "emergency credit granted on request "
           "while credit is above alarm 2", engine(_EmergencyAboveAlarm2),
           emergency_credit("on_request")),
    Defect("emergency-credit-twice", EMERGENCY, "emergency credit granted again before the "
           "first loan is repaid", engine(_EmergencyTwice), emergency_credit("on_request")),
    Defect("emergency-credit-refused", EMERGENCY, "emergency credit never lent",
           engine(_EmergencyRefused), emergency_credit()),
    Defect("emergency-credit-forgiven", EMERGENCY, "the next purchase writes the loan off "
           "instead of repaying it", engine(_EmergencyForgiven), emergency_credit()),
    Defect("emergency-credit-short", EMERGENCY, "half the emergency credit amount lent",
           engine(_EmergencyShort), emergency_credit()),
    Defect("friendly-period-ignored", FRIENDLY, "cut-off inside a friendly period",
           engine(_FriendlyIgnored), capability("friendly_periods")),
    Defect("friendly-period-ends-late", FRIENDLY, "friendly period held an hour past its end",
           engine(_FriendlyEndsLate), capability("friendly_periods")),
    Defect("power-limit-not-enforced", POWER, "no trip above the power limit",
           engine(_PowerLimitIgnored), capability("power_limit")),
    Defect("power-limit-low", POWER, "power limit enforced at 40 % of its level",
           engine(_PowerLimitLow), capability("power_limit")),
    Defect("power-limit-reconnects-early", POWER, "reconnection after half the delay",
           engine(_ReconnectsEarly), capability("power_limit")),
    Defect("power-trip-recorded-as-cutoff", POWER, "a power-limit trip recorded as a credit "
           "cut-off", engine(_PowerTripIsCutoff), capability("power_limit")),
)
