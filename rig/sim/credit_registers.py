"""The prepaid engine's registers as a display and a card readback show them: the customer's
balance, remaining credit and overdraft, energy, the event counters, credit in card units.

What the relay and alarm logic decide lives in rig/sim/prepaid.py (PrepaidEngine, whose
dataclass fields these read); this is the part that only reads and converts them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

from rig.card_formats.interface import ENERGY_WH, MONEY_CENTS
from rig.profile import CreditKind, MeterProfile


@dataclass
class EventLog:
    """Counters and last-occurrence times, as a meter's event records keep them."""

    alarm1_count: int = 0
    alarm2_count: int = 0
    cutoff_count: int = 0
    tamper_count: int = 0
    power_down_count: int = 0
    power_trip_count: int = 0
    emergency_count: int = 0
    last_alarm1: datetime | None = None
    last_alarm2: datetime | None = None
    last_cutoff: datetime | None = None
    last_reconnect: datetime | None = None
    last_power_trip: datetime | None = None
    last_emergency: datetime | None = None

    @property
    def alarm_count(self) -> int:
        return self.alarm1_count + self.alarm2_count


class CreditRegisters:
    """Reads and card-unit conversions of the engine's registers (PrepaidEngine's base)."""

    profile: MeterProfile
    energy_wh: int
    credit: Decimal
    tariff_version: int
    purchase_count: int
    last_sequence: int
    cumulative_purchase: Decimal
    emergency_outstanding: Decimal
    relay_closed: bool
    alarm1_active: bool
    alarm2_active: bool
    events: EventLog

    @property
    def _money(self) -> bool:
        return self.profile.credit.unit is CreditKind.MONEY


    @property
    def credit_unit(self) -> str:
        """The card unit of this meter's credit: "money_cents" or "energy_wh"."""
        return MONEY_CENTS if self._money else ENERGY_WH

    def credit_from_units(self, units: int) -> Decimal:
        return self.profile.from_credit_units(units)

    def from_units(self, units: int) -> Decimal:
        """Integer card units as a level in the meter's unit (money or kWh)."""
        return self.profile.from_credit_units(units)

    def units(self, amount: Decimal) -> int:
        """Register value in card units, truncated toward zero (what a display shows)."""
        scaled = amount * (100 if self._money else 1000)
        return int(scaled.to_integral_value(rounding=ROUND_DOWN))


    def clear_events(self) -> None:
        """A clear card's command: the event counters start again from zero."""
        self.events = EventLog()

    def readback_values(self, at: datetime) -> dict[str, Any]:
        """The usage data a card readback carries, named as the centre's ReadbackData names
        its fields (credit values in card units)."""
        ev = self.events
        return {
            "meter_no": self.profile.protocol.address,
            "energy_wh": self.energy_wh,
            "remaining": self.units(self.remaining),
            "overdraft": self.units(self.overdraft),
            "purchase_count": self.purchase_count,
            "last_sequence": self.last_sequence,
            "cumulative_purchase": self.units(self.cumulative_purchase),
            "credit_unit": self.credit_unit,
            "relay_open": not self.relay_closed,
            "alarm_active": self.alarm1_active or self.alarm2_active,
            "alarm_count": ev.alarm_count,
            "cutoff_count": ev.cutoff_count,
            "tamper_count": ev.tamper_count,
            "power_down_count": ev.power_down_count,
            "timestamp": at.replace(microsecond=0),
            "tariff_version": self.tariff_version,
        }


    @property
    def balance(self) -> Decimal:
        """The customer's own credit: spendable credit less emergency credit on loan."""
        return self.credit - self.emergency_outstanding

    @property
    def remaining(self) -> Decimal:
        return max(self.balance, Decimal(0))

    @property
    def overdraft(self) -> Decimal:
        return max(-self.balance, Decimal(0))

    @property
    def emergency_active(self) -> bool:
        return self.emergency_outstanding > 0

    @property
    def energy_kwh(self) -> Decimal:
        return Decimal(self.energy_wh) / 1000
