"""The meter as scenarios see it: semantic reads over whichever protocol it speaks (DL/T 645 or
IEC 62056-21), one consistent poll of its credit and flags, and when a polled condition
became true (a bracket of bench instants that holds on any machine)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

from rig.bench.bench import Bench
from rig.errors import ProtocolError, RigError
from rig.meter.client import (
    IEC_ALARM1,
    IEC_ALARM2,
    IEC_EMERGENCY,
    IEC_POWER_TRIP,
    IEC_RELAY_OPEN,
    CardRefusals,
    IecMeterClient,
)
from rig.meter.dlt645 import data_ids as di
from rig.meter.dlt645.client import Dlt645Client, MeterAbnormalReply
from rig.meter.serial_client import MeterTimeout
from rig.profile import CreditKind

T = TypeVar("T")


@dataclass(frozen=True)
class MeterState:
    """One poll of the meter: what its display and status word say (None: the protocol
    does not tell)."""

    remaining: Decimal
    relay_open: bool
    pre_trip_alarm: bool
    overdraft: Decimal = Decimal(0)
    alarm1: bool | None = None
    emergency: bool | None = None
    power_trip: bool | None = None
    remaining_before_status: Decimal | None = None  # the credit read before the status word

    @property
    def remaining_without_flags(self) -> Decimal:
        """The credit as it stood when the status flags were not yet set (see state())."""
        return self.remaining if self.remaining_before_status is None \
            else self.remaining_before_status


@dataclass(frozen=True)
class Observed:
    """When a polled condition became true: after `earliest`, no later than `latest`.

    `earliest` is the bench instant the last poll that did not see it was sent, `latest` the
    instant the first poll that saw it was answered; so the bracket holds on any machine,
    a slow one only widens it.
    """

    state: MeterState
    before: MeterState | None
    earliest: datetime
    latest: datetime

    @property
    def window(self) -> tuple[datetime, datetime]:
        return self.earliest, self.latest


# DL/T 645 parameter registers (alarm and limit levels) per credit unit.
_DLT645_LEVELS = {
    CreditKind.MONEY: {"alarm1": di.ALARM_AMOUNT_1, "alarm2": di.ALARM_AMOUNT_2,
                       "overdraft_limit": di.OVERDRAFT_AMOUNT_LIMIT,
                       "hoarding_limit": di.HOARDING_AMOUNT_LIMIT},
    CreditKind.ENERGY: {"alarm1": di.ALARM_ENERGY_1, "alarm2": di.ALARM_ENERGY_2,
                        "overdraft_limit": di.OVERDRAFT_ENERGY_LIMIT,
                        "hoarding_limit": di.HOARDING_ENERGY_LIMIT},
}


def agreed(read: Callable[[], T], what: str, attempts: int = 5) -> T:
    """A value that two consecutive reads agree on, for values that must not move.

    The frame checksum misses some double corruptions; two independent exchanges that agree
    are what the rig takes before a serial value goes into the billing centre.
    """
    last = read()
    for _ in range(attempts - 1):
        again = read()
        if again == last:
            return again
        last = again
    raise RigError(f"{what}: {attempts} reads never agreed twice in a row (last {last})")


UNASSIGNED_DI = 0x0E000001  # no meter has it: DL/T 645-2007 assigns no DI3 0x0E


class MeterView:
    """The meter as scenarios need it: semantic reads over whichever protocol it speaks."""

    def __init__(self, bench: Bench) -> None:
        self._client = bench.meter

    def address(self) -> str:
        return agreed(self._client.read_address, "meter address")

    def energy_kwh(self) -> Decimal:
        return self._client.energy_kwh()

    def settled_energy_kwh(self) -> Decimal:
        """The energy register while nothing draws power, confirmed by a second read."""
        return agreed(self._client.energy_kwh, "energy register")

    def remaining(self) -> Decimal:
        return self._client.remaining_credit()

    def overdraft(self) -> Decimal:
        return self._client.overdraft()

    def state(self) -> MeterState:
        """One consistent poll: a single readout where the protocol has one (IEC 62056-21);
        else the credit read on both sides of the status word, so a level seen with a flag
        is judged by the read after it and one seen without it by the read before."""
        c = self._client
        if isinstance(c, IecMeterClient):
            data = c.readout()
            number = {q: Decimal(data[c.registers[q]].value)
                      for q in ("remaining_credit", "overdraft")}
            word = int(data[c.registers["status"]].value, 16)
            return MeterState(number["remaining_credit"], bool(word & IEC_RELAY_OPEN),
                              bool(word & IEC_ALARM2), number["overdraft"],
                              bool(word & IEC_ALARM1), bool(word & IEC_EMERGENCY),
                              bool(word & IEC_POWER_TRIP),
                              remaining_before_status=number["remaining_credit"])
        first = c.remaining_credit()
        st = c.status()
        remaining = c.remaining_credit()
        return MeterState(remaining, st.relay_open, bool(st.alarm2), c.overdraft(), st.alarm1,
                          st.emergency_active, st.power_trip, remaining_before_status=first)

    def levels(self) -> dict[str, Decimal] | None:
        """Alarm and limit levels as the meter's parameter registers say; None if its
        protocol has no such registers (an IEC 62056-21 readout of this model)."""
        protocol = getattr(self._client, "protocol", None)
        if not isinstance(protocol, Dlt645Client):
            return None
        ids = _DLT645_LEVELS[self._client.profile.credit.unit]
        return {name: Decimal(str(protocol.read(i))) for name, i in ids.items()}

    def card_refusals(self) -> CardRefusals:
        """Refused cards as the meter reports them over its protocol."""
        return self._client.card_refusals()

    def answer_to_unassigned_register(self) -> str | None:
        """What a DL/T 645 meter answers to a read of a data identifier no meter has (DI3 0x0E
        is unassigned in DL/T 645-2007): its abnormal reply's reasons; None where the protocol
        has no such answer here. A reply with data is a ProtocolError naming it."""
        protocol = getattr(self._client, "protocol", None)
        if not isinstance(protocol, Dlt645Client):
            return None
        try:
            value = protocol.read_raw(UNASSIGNED_DI)
        except MeterAbnormalReply as e:
            return ", ".join(e.reasons)
        except MeterTimeout as e:
            return f"no answer ({e})"
        raise ProtocolError(f"meter answered {value.hex()} to a read of the unassigned data "
                            f"identifier {UNASSIGNED_DI:08X}")

    def tamper_count(self) -> int:
        """Cover openings (tamper events) the meter counted, over its protocol."""
        return self._client.event_counts().tamper

    def last_cutoff_or_none(self) -> datetime | None:
        return self._client.last_cutoff_time()

    def last_cutoff(self) -> datetime:
        trip = self._client.last_cutoff_time()
        if trip is None:
            raise RigError("the meter has no cut-off record")
        return trip
