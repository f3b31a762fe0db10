"""Reusable scenario steps: what a QA engineer does at a prepaid bench, one method each.

Scenarios (the prepaid cycle, the certification suite) compose these; each step works the
same on an emulated and a real bench because it only uses the bench's instruments, the
billing centre and the vending station.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from rig.bench.bench import Bench
from rig.bench.courier import Delivery
from rig.bench.operator import OperatorConsole
from rig.bench.safe_report import watts
from rig.billing.centre.errors import Conflict
from rig.billing.centre.facade import BillingCentre
from rig.billing.types import VendResult
from rig.card_formats.interface import (
    Attack,
    CardKind,
    CardReadback,
    MasterKeys,
    PurchaseOnCard,
    key_revisions,
)
from rig.card_formats.registry import card_format
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
from rig.report.plot import RunSeries
from rig.report.record import RunRecord
from rig.station.vending_station import UploadedReadback, VendingStation

OPERATOR = "rig-cashier"


class PhaseOverrun(AssertionError):
    """A phase ran past the time its requirement allows: a fail verdict, not a bench error."""
ADMINISTRATOR = "rig-administrator"  # issues parameter cards (the meter's limits)
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


def attach_reconciliation(record: RunRecord, evidence: dict[str, object]) -> None:
    """The centre's reconciliation evidence (checks, ledger view, readback) as a record's
    evidence: what an auditor re-checks a verdict against."""
    record.attach("reconciliation evidence", json.dumps(evidence, indent=2, default=str),
                  "application/json")


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
        return {name: Decimal(protocol.read(i)) for name, i in ids.items()}

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


class BenchSteps:
    """The steps, bound to one bench, one billing centre and one run record."""

    # The widest bench-time gap between two polls of one wait (`wait_for`, `watch`): how
    # late an event can be seen on this machine at this time scale.
    longest_poll_gap = timedelta(0)

    def __init__(self, bench: Bench, billing: BillingCentre, record: RunRecord) -> None:
        self.bench = bench
        self.billing = billing
        self.record = record
        self.meter = MeterView(bench)
        p = bench.profile
        self.card_format = card_format(p.card.format,
                                       where=f"meter profile {p.name}: [card] format")
        self.station = VendingStation(billing, MasterKeys(bench.master_key),
                                      fmt=self.card_format, options=bench.card_options,
                                      trace=bench.apdu_trace)
        self.money = p.credit.unit is CreditKind.MONEY
        self.unit = p.credit.currency if self.money else "kWh"
        self.meter_no = p.protocol.address
        self.card_serial = uuid.uuid4().hex[:16].upper()
        self.tag = uuid.uuid4().hex[:8]
        self.series = RunSeries(self.unit)
        self.load_on_at: datetime | None = None
        self.load_on_window: tuple[datetime, datetime] | None = None
        self._plot_t0: datetime | None = None
        self._vends = 0

    # -- billing-centre side ---------------------------------------------------------
    def register(self, price_per_kwh: Decimal, customer: str = "Bench Customer") -> int:
        """Register station, cashier, customer, tariff and meter (with the profile's hoarding
        limit, so the centre refuses what the meter would); returns commissioning Wh."""
        b, p = self.bench, self.bench.profile
        with contextlib.suppress(Conflict):  # a lab database knows them already
            self.billing.register_station(b.config.station_id)
        with contextlib.suppress(Conflict):
            self.billing.register_operator(OPERATOR, "cashier")
        with contextlib.suppress(Conflict):
            self.billing.register_operator(ADMINISTRATOR, "administrator")
        if getattr(self.billing, "cashier_sessions", False):
            self._open_shift(b.config.station_id)
        account = f"ACC-{self.tag}"
        self.billing.register_customer(customer, account)
        tariff_code = self.tariff_code
        self.billing.create_tariff(tariff_code, price_per_kwh, b.now())
        energy_wh = int(self.meter.settled_energy_kwh() * 1000)
        self.billing.register_meter(
            self.meter_no, customer_account=account, profile=p.name,
            credit_unit="money_cents" if self.money else "energy_wh", tariff_code=tariff_code,
            key_revision=p.card.key_revision, commissioning_energy_wh=energy_wh,
            commissioned_at=b.now(),
            hoarding_limit=p.to_credit_units(p.thresholds.hoarding_limit))
        return energy_wh

    def _open_shift(self, station: str) -> None:
        """The cashier's session at this bench's station, opened unless one is open there (a
        served centre sells a cashier's vends only inside one; benches sharing a station
        share it)."""
        shift = self.billing.open_session_of(OPERATOR)
        if shift is None:
            try:
                self.billing.open_session(OPERATOR, station)
                return
            except Conflict:  # another bench opened it meanwhile
                shift = self.billing.open_session_of(OPERATOR)
        if shift is not None and shift.station != station:
            raise RigError(f"operator {OPERATOR} has cashier session {shift.session_id} open at "
                           f"station {shift.station}, so it cannot sell at {station}: close it "
                           "or give this bench that station")

    @property
    def tariff_code(self) -> str:
        return f"FLAT-{self.tag}"

    def issue_card(self) -> str:
        """Register and personalise a user card bound to the meter; returns its meter no."""
        with self.bench.card_at_writer() as conn:
            self.billing.issue_card(self.meter_no, self.card_serial)
            info = self.station.personalise(conn, card_serial=self.card_serial,
                                            meter_no=self.meter_no,
                                            key_revision=self.bench.profile.card.key_revision)
        return info.meter_no

    def vend(self, amount: Decimal) -> VendResult:
        self._vends += 1
        return self.billing.vend(self.meter_no, amount, request_id=f"{self.tag}-{self._vends}",
                                 station=self.bench.config.station_id, operator=OPERATOR)

    def credit_of(self, vend: VendResult) -> Decimal:
        return self.bench.profile.from_credit_units(vend.credit)

    def write_vend(self, vend: VendResult) -> int:
        with self.bench.card_at_writer() as conn:
            return self.station.write_vend(conn, vend).sequence

    def read_readback(self) -> CardReadback:
        with self.bench.card_at_writer() as conn:
            return self.station.read_readback(conn)

    def upload_readback(self) -> UploadedReadback:
        with self.bench.card_at_writer() as conn:
            uploaded = self.station.upload_readback(conn)
        attach_reconciliation(self.record, uploaded.reconciliation.evidence)
        return uploaded

    # -- the customer's side ----------------------------------------------------------
    def insert_into_meter(self, *, expect_accepted: bool = True) -> Delivery:
        """Carry the card to the meter (it reads/writes it) and back into the hand."""
        delivery = self.bench.courier.move("meter")
        if expect_accepted and not delivery.accepted:
            raise RigError(f"meter refused the card: {delivery.meter_message}")
        return delivery

    def card_to_writer(self) -> None:
        self.bench.courier.move("writer")

    def buy(self, amount: Decimal) -> tuple[VendResult, Delivery]:
        """Vend, write the card and insert it: the customer's purchase, applied or refused."""
        vend = self.vend(amount)
        self.write_vend(vend)
        return vend, self.insert_into_meter(expect_accepted=False)

    def settle(self) -> UploadedReadback:
        """Card back to the writer and its readback uploaded (the centre then sells again)."""
        self.card_to_writer()
        return self.upload_readback()

    def personalise_as(self, kind: CardKind) -> None:
        """Re-issue the card in the writer as another card kind (same serial and keys)."""
        with self.bench.card_at_writer() as conn:
            self.station.personalise(conn, card_serial=self.card_serial,
                                     meter_no=self.meter_no,
                                     key_revision=self.bench.profile.card.key_revision,
                                     kind=kind)

    def lacks_kind(self, kind: CardKind) -> bool:
        """True (and the record says so) if the meter's card format has no ``kind`` card:
        what needs one is not applicable to this meter, a measured outcome, not a pass."""
        if kind in self.card_format.kinds:
            return False
        with self.record.step(f"{kind.value} card"):
            self.record.measure(f"{kind.value} card", f"not applicable: card format "
                                f"{self.card_format.name!r} has no {kind.value} card")
        return True

    def lacks_key_revision(self, revision: int) -> bool:
        """True (and the record says so) if the card format cannot tell key revision
        ``revision`` from the others (an ESAM has two key states, not numbered revisions)."""
        known = key_revisions(self.card_format)
        if revision in known:
            return False
        with self.record.step(f"key revision {revision}"):
            self.record.measure(f"key revision {revision}", f"not applicable: card format "
                                f"{self.card_format.name!r} has key revisions "
                                f"{known.start}..{known.stop - 1} only")
        return True

    def attack(self, name: str) -> Attack | None:
        """The format's word on attack ``name`` (None: the format does not list it)."""
        return next((a for a in self.card_format.attacks() if a.name == name), None)

    def read_purchase(self) -> PurchaseOnCard | None:
        with self.bench.card_at_writer() as conn:
            return self.station.read_purchase(conn)

    def forge_purchase(self, genuine: PurchaseOnCard) -> None:
        """Put on the card what a cloned writer without the meter's secrets could (the card
        format's ``forged_purchase``: the genuine purchase with ten times the credit)."""
        with self.bench.card_at_writer() as conn:
            self.card_format.forged_purchase(self.station.writer, conn, genuine)

    def press_meter_key(self, key: str) -> bool:
        """The customer presses a meter key; True if the meter granted it. On a real bench
        the operator presses it and says what the meter showed."""
        if self.bench.sim is not None:
            return bool(self.bench.sim.call("meter_key", key=key)["granted"])
        label = key.replace("_", " ")
        return OperatorConsole().yes_no(f"press the {label} key on the meter",
                                        f"Press the {label} key on the meter: was it granted?")

    # -- the load and the meter while consuming -----------------------------------------
    def load_on(self, power_w: Decimal) -> datetime:
        """Switch the load on at `power_w`; returns the bench instant just before.

        The switch runs with the bench clock at real time (`Bench.clock_slowed`): every
        prediction counts from this instant, and at 36000x a busy machine's second of SCPI
        round trips would otherwise be ten bench hours of doubt about it."""
        b = self.bench
        b.load.set_power(power_w)
        with b.clock_slowed():
            self.load_on_at = b.now()
            b.load.input_on()
            self.load_on_window = (self.load_on_at, b.now())
        return self.load_on_at

    def set_power(self, power_w: Decimal) -> tuple[datetime, datetime]:
        """Change the load's set point; returns the bench window the change took effect in
        (a window of real time: the change runs with the bench clock slowed, as in
        `load_on`)."""
        with self.bench.clock_slowed():
            before = self.bench.now()
            self.bench.load.set_power(power_w)
            return before, self.bench.now()

    def load_off(self) -> None:
        """Switch the load off, with the bench clock at real time (as `load_on`): the load
        draws nothing more than the moment it takes, however busy the machine."""
        with self.bench.clock_slowed():
            self.bench.load.input_off()

    def hours_since_load_on(self, t: datetime | None = None) -> float:
        if self.load_on_at is None:
            return 0.0
        return ((t or self.bench.now()) - self.load_on_at).total_seconds() / 3600

    def poll(self) -> MeterState:
        state = self.meter.state()
        power = self.bench.load.measure().power
        self.series.add(self.hours_since_load_on(), state.remaining, power, state.relay_open)
        self.record.reading(remaining=f"{state.remaining} {self.unit}",
                            relay="open" if state.relay_open else "closed",
                            power=watts(power, relay_open=state.relay_open),
                            bench_time=self.bench.now().strftime("%Y-%m-%d %H:%M"))
        return state

    def watch(self, done: Callable[[MeterState], bool], what: str, *,
              poll_s: float = 0.002, max_bench_hours: float = 200.0,
              deadline: datetime | None = None, requirement: str = "") -> Observed:
        """Poll until `done`, bracketing the bench instant it became true (see Observed).

        Past `deadline` (bench time: the latest instant the requirement allows) the phase
        fails with a timeout verdict naming `requirement`; `max_bench_hours` only guards
        against a bench that stopped answering."""
        limit = time.monotonic() + max_bench_hours * 3600 / self.bench.clock.scale
        before: MeterState | None = None
        sent_before = self.bench.now()
        while True:
            sent = self.bench.now()
            self._poll_gap(sent_before, sent)
            state = self.meter.state()
            answered = self.bench.now()
            self._sample(state)
            if done(state):
                return Observed(state, before, sent_before, answered)
            before, sent_before = state, sent
            # A poll sent after the deadline that still does not see it: the meter is late
            # (a slow line delays the answer, not the instant the meter was asked about).
            if deadline is not None and sent > deadline:
                raise PhaseOverrun(f"timeout: {what} not reached by {deadline:%Y-%m-%d %H:%M:%S}"
                                   f" bench time: {requirement}")
            if time.monotonic() > limit:
                raise RigError(f"{what} not reached within {max_bench_hours} bench hours")
            time.sleep(poll_s)

    def wait_until(self, at: datetime, *, poll_s: float = 0.002) -> MeterState:
        """Let bench time pass until `at` (polling the meter for the record and the plot)."""
        while True:
            state = self.meter.state()
            self._sample(state)
            if self.bench.now() >= at:
                return state
            time.sleep(poll_s)

    def _poll_gap(self, earlier: datetime, later: datetime) -> None:
        self.longest_poll_gap = max(self.longest_poll_gap, later - earlier)

    def _sample(self, state: MeterState) -> None:
        """One point of the run's plot (hours since the first point, so the axis never
        jumps back when the load is switched on again)."""
        power = self.bench.load.measure().power
        now = self.bench.now()
        self._plot_t0 = self._plot_t0 or now
        self.series.add((now - self._plot_t0).total_seconds() / 3600, state.remaining, power,
                        state.relay_open)

    def wait_for(self, done: Callable[[MeterState], bool], what: str, *,
                 poll_s: float = 0.02, max_bench_hours: float = 200.0,
                 deadline: tuple[datetime, str] | None = None) -> MeterState:
        """Poll the meter until `done`; a clear error after `max_bench_hours` of bench time.

        `done` must hold on two consecutive polls (the conditions waited for stay true once
        reached): a corrupted reply that slipped past the frame checksum cannot end a wait.
        `deadline` (the latest bench instant the requirement allows, and the requirement): a
        poll sent after it that does not see `done` fails the phase with a timeout verdict.
        """
        limit = time.monotonic() + max_bench_hours * 3600 / self.bench.clock.scale
        previous: datetime | None = None
        while True:
            sent = self.bench.now()
            if previous is not None:
                self._poll_gap(previous, sent)
            previous = sent
            state = self.poll()
            if done(state) and done(confirmed := self.poll()):
                return confirmed
            if deadline is not None and sent > deadline[0]:
                raise PhaseOverrun(f"timeout: {what} not reached by "
                                   f"{deadline[0]:%Y-%m-%d %H:%M:%S} bench time: {deadline[1]}")
            if time.monotonic() > limit:
                raise RigError(f"{what} not reached within {max_bench_hours} bench hours")
            time.sleep(poll_s)
