"""Reusable scenario steps: what a QA engineer does at a prepaid bench, one method each.

Scenarios (the prepaid cycle, the certification suite) compose these; each step works the
same on an emulated and a real bench because it only uses the bench's instruments, the
billing centre and the vending station.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TypeVar

from rig.bench.bench import Bench
from rig.bench.courier import Delivery
from rig.bench.vending_station import UploadedReadback, VendingStation
from rig.billing.service import BillingCentre, Conflict
from rig.billing.types import VendResult
from rig.card.records import ReadbackRecord
from rig.errors import RigError
from rig.profile import CreditKind
from rig.report.plot import RunSeries
from rig.scenarios.record import RunRecord

OPERATOR = "rig-cashier"
T = TypeVar("T")


@dataclass(frozen=True)
class MeterState:
    """One poll of the meter: what its display and status word say."""

    remaining: Decimal
    relay_open: bool
    pre_trip_alarm: bool


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

    def state(self) -> MeterState:
        remaining = self._client.remaining_credit()
        status = self._client.status()
        return MeterState(remaining, status.relay_open, bool(status.alarm2))

    def last_cutoff(self) -> datetime:
        trip = self._client.last_cutoff_time()
        if trip is None:
            raise RigError("the meter has no cut-off record")
        return trip


class BenchSteps:
    """The steps, bound to one bench, one billing centre and one run record."""

    def __init__(self, bench: Bench, billing: BillingCentre, record: RunRecord) -> None:
        self.bench = bench
        self.billing = billing
        self.record = record
        self.meter = MeterView(bench)
        self.station = VendingStation(billing, bench.master_key, trace=bench.apdu_trace)
        p = bench.profile
        self.money = p.credit.unit is CreditKind.MONEY
        self.unit = p.credit.currency if self.money else "kWh"
        self.meter_no = p.protocol.address
        self.card_serial = uuid.uuid4().hex[:16].upper()
        self.tag = uuid.uuid4().hex[:8]
        self.series = RunSeries(self.unit)
        self.load_on_at: datetime | None = None
        self._vends = 0

    # -- billing-centre side ---------------------------------------------------------
    def register(self, price_per_kwh: Decimal, customer: str = "Bench Customer") -> int:
        """Register station, cashier, customer, tariff and meter; returns commissioning Wh."""
        b, p = self.bench, self.bench.profile
        with contextlib.suppress(Conflict):  # a lab database knows them already
            self.billing.register_station(b.config.station_id)
        with contextlib.suppress(Conflict):
            self.billing.register_operator(OPERATOR, "cashier")
        account = f"ACC-{self.tag}"
        self.billing.register_customer(customer, account)
        tariff_code = f"FLAT-{self.tag}"
        self.billing.create_tariff(tariff_code, price_per_kwh, b.now())
        energy_wh = int(self.meter.settled_energy_kwh() * 1000)
        self.billing.register_meter(
            self.meter_no, customer_account=account, profile=p.name,
            credit_unit="money_cents" if self.money else "energy_wh", tariff_code=tariff_code,
            key_revision=p.card.key_revision, commissioning_energy_wh=energy_wh,
            commissioned_at=b.now())
        return energy_wh

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

    def read_readback(self) -> ReadbackRecord:
        with self.bench.card_at_writer() as conn:
            return self.station.read_readback(conn, self.bench.profile.card.key_revision)

    def upload_readback(self) -> UploadedReadback:
        with self.bench.card_at_writer() as conn:
            return self.station.upload_readback(conn, self.bench.profile.card.key_revision)

    # -- the customer's side ----------------------------------------------------------
    def insert_into_meter(self, *, expect_accepted: bool = True) -> Delivery:
        """Carry the card to the meter (it reads/writes it) and back into the hand."""
        delivery = self.bench.courier.move("meter")
        if expect_accepted and not delivery.accepted:
            raise RigError(f"meter refused the card: {delivery.meter_message}")
        return delivery

    def card_to_writer(self) -> None:
        self.bench.courier.move("writer")

    # -- the load and the meter while consuming -----------------------------------------
    def load_on(self, power_w: Decimal) -> datetime:
        b = self.bench
        b.load.set_power(power_w)
        self.load_on_at = b.now()
        b.load.input_on()
        return self.load_on_at

    def load_off(self) -> None:
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
                            power=f"{power} W",
                            bench_time=self.bench.now().strftime("%Y-%m-%d %H:%M"))
        return state

    def wait_for(self, done: Callable[[MeterState], bool], what: str, *,
                 poll_s: float = 0.02, max_bench_hours: float = 200.0) -> MeterState:
        """Poll the meter until `done`; a clear error after `max_bench_hours` of bench time.

        `done` must hold on two consecutive polls (the conditions waited for stay true once
        reached): a corrupted reply that slipped past the frame checksum cannot end a wait.
        """
        limit = time.monotonic() + max_bench_hours * 3600 / self.bench.clock.scale
        while True:
            state = self.poll()
            if done(state) and done(confirmed := self.poll()):
                return confirmed
            if time.monotonic() > limit:
                raise RigError(f"{what} not reached within {max_bench_hours} bench hours")
            time.sleep(poll_s)
