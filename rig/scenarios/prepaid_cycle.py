"""The full prepaid cycle: buy → insert → consume to alarm → cut-off → readback → reconcile.

Every phase is a recorded step with its measurements; the expectations come from the meter
profile and the billing centre's tariff, never from the emulator, so the same scenario
certifies a real meter on a real bench.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from rig.bench.bench import Bench
from rig.bench.vending_station import VendingStation
from rig.billing.service import BillingCentre, Conflict
from rig.errors import RigError
from rig.meter.dlt645 import data_ids as di
from rig.profile import CreditKind
from rig.scenarios.record import RunRecord

PHASES = [
    "register customer and meter",
    "issue card",
    "buy credit",
    "write purchase to card",
    "card to meter: apply credit",
    "load on: consume to alarm",
    "consume to cut-off",
    "verify cut-off",
    "load off",
    "card to meter: collect readback",
    "card to writer: read readback",
    "upload readback and reconcile",
]

CUTOFF_CURRENT_LIMIT_A = Decimal("0.05")
OPERATOR = "rig-cashier"


@dataclass(frozen=True)
class CycleParams:
    """What to buy and how hard to draw; defaults give ~19 bench hours of consumption."""

    amount: Decimal = Decimal("20.00")
    power_w: Decimal = Decimal(2000)
    price_per_kwh: Decimal = Decimal("0.5283")
    poll_s: float = 0.02  # real seconds between meter polls
    max_bench_hours: float = 200.0
    customer_name: str = "Bench Customer"


@dataclass
class CycleResult:
    credit_bought: Decimal = Decimal(0)
    credit_unit: str = ""
    energy_consumed_kwh: Decimal = Decimal(0)
    load_on_at: datetime | None = None
    alarm1_at: datetime | None = None
    alarm2_at: datetime | None = None
    cutoff_at: datetime | None = None
    verdict: str = ""
    vend_sequence: int = 0


def _hours(a: datetime | None, b: datetime | None) -> Decimal | None:
    if a is None or b is None:
        return None
    return Decimal(str(round((b - a).total_seconds() / 3600, 3)))


class PrepaidCycle:
    """One run of the cycle on an open bench against a billing centre."""

    def __init__(self, bench: Bench, billing: BillingCentre, record: RunRecord,
                 params: CycleParams | None = None) -> None:
        self.bench = bench
        self.billing = billing
        self.record = record
        self.params = params or CycleParams()
        self.result = CycleResult()
        self.station = VendingStation(billing, bench.master_key, trace=bench.apdu_trace)
        p = bench.profile
        self._money = p.credit.unit is CreditKind.MONEY
        self._remaining_di = di.REMAINING_AMOUNT if self._money else di.REMAINING_ENERGY
        self._meter_no = p.protocol.address
        self._card_serial = uuid.uuid4().hex[:16].upper()
        self._run_tag = uuid.uuid4().hex[:8]

    # -- the phases ------------------------------------------------------------------
    def run(self) -> CycleResult:
        try:
            self.register()
            self.issue_card()
            vend = self.buy()
            self.write_purchase(vend)
            self.apply_credit(vend.sequence)
            self.consume_to_alarm()
            self.consume_to_cutoff()
            self.verify_cutoff()
            self.load_off()
            self.collect_readback()
            self.reconcile()
        finally:
            self.bench.safe_state()
            self.record.attach("meter serial transcript", self.bench.meter_transcript.to_text())
            self.record.attach("card APDU trace", self.bench.apdu_trace.to_text())
        return self.result

    def register(self) -> None:
        b, p, prm = self.bench, self.bench.profile, self.params
        with self.record.step(PHASES[0]):
            address = b.meter.read_address()
            self.record.measure("meter communication address", address, equals=self._meter_no)
            energy = b.meter.read(di.COMBINED_ACTIVE_TOTAL)
            with contextlib.suppress(Conflict):  # a lab database knows them already
                self.billing.register_station(b.config.station_id)
            with contextlib.suppress(Conflict):
                self.billing.register_operator(OPERATOR, "cashier")
            account = f"ACC-{self._run_tag}"
            self.billing.register_customer(prm.customer_name, account)
            tariff_code = f"FLAT-{self._run_tag}"
            self.billing.create_tariff(tariff_code, prm.price_per_kwh, b.now())
            self.billing.register_meter(
                self._meter_no, customer_account=account, profile=p.name,
                credit_unit="money_cents" if self._money else "energy_wh",
                tariff_code=tariff_code, key_revision=p.card.key_revision,
                commissioning_energy_wh=int(Decimal(str(energy)) * 1000),
                commissioned_at=b.now())
            self.record.measure("commissioning energy", energy, "kWh")

    def issue_card(self) -> None:
        with self.record.step(PHASES[1]), self.bench.card_at_writer() as conn:
            self.billing.issue_card(self._meter_no, self._card_serial)
            info = self.station.personalise(
                conn, card_serial=self._card_serial, meter_no=self._meter_no,
                key_revision=self.bench.profile.card.key_revision)
            self.record.measure("card bound to meter", info.meter_no, equals=self._meter_no)

    def buy(self):
        with self.record.step(PHASES[2]):
            vend = self.billing.vend(self._meter_no, self.params.amount,
                                     request_id=f"run-{self._run_tag}-1",
                                     station=self.bench.config.station_id, operator=OPERATOR)
            self.result.credit_bought = self.bench.profile.from_credit_units(vend.credit)
            self.result.credit_unit = (self.bench.profile.credit.currency if self._money
                                       else "kWh")
            self.result.vend_sequence = vend.sequence
            self.record.measure("amount paid", vend.amount, self.bench.profile.credit.currency)
            self.record.measure("credit bought", self.result.credit_bought,
                                self.result.credit_unit)
            self.record.measure("purchase sequence", vend.sequence, low=Decimal(1))
            return vend

    def write_purchase(self, vend) -> None:
        with self.record.step(PHASES[3]), self.bench.card_at_writer() as conn:
            purchase = self.station.write_vend(conn, vend)
            self.record.measure("purchase on card", purchase.sequence, equals=vend.sequence)

    def apply_credit(self, sequence: int) -> None:
        b = self.bench
        with self.record.step(PHASES[4]):
            delivery = b.courier.move("meter")
            self.record.measure("meter display", delivery.meter_message)
            if not delivery.accepted:
                raise RigError(f"meter refused the card: {delivery.meter_message}")
            remaining = Decimal(str(b.meter.read(self._remaining_di)))
            self.record.measure("remaining credit after insertion", remaining,
                                self.result.credit_unit, equals=self.result.credit_bought)
            status = int(b.meter.read(di.STATUS_WORD_3))
            self.record.measure("relay closed after purchase", not status & di.SW3_RELAY_OPEN,
                                equals=True)
            b.courier.move("hand")

    def _poll(self) -> tuple[Decimal, int]:
        remaining = Decimal(str(self.bench.meter.read(self._remaining_di)))
        status = int(self.bench.meter.read(di.STATUS_WORD_3))
        self.record.reading(remaining=f"{remaining} {self.result.credit_unit}",
                            relay="open" if status & di.SW3_RELAY_OPEN else "closed",
                            bench_time=self.bench.now().strftime("%Y-%m-%d %H:%M"))
        return remaining, status

    def _wait_until(self, done, what: str) -> tuple[Decimal, int]:
        limit = time.monotonic() + self.params.max_bench_hours * 3600 / self.bench.clock.scale
        while True:
            remaining, status = self._poll()
            if done(remaining, status):
                return remaining, status
            if time.monotonic() > limit:
                raise RigError(f"{what} not reached within {self.params.max_bench_hours} "
                               "bench hours")
            time.sleep(self.params.poll_s)

    def _predicted_hours(self, credit_left: Decimal) -> Decimal:
        """Bench hours from load-on until credit falls to `credit_left` at constant power."""
        spent = self.result.credit_bought - credit_left
        kwh = spent / self.params.price_per_kwh if self._money else spent
        return (kwh * 1000 / self.params.power_w).quantize(Decimal("0.001"))

    def consume_to_alarm(self) -> None:
        b, t = self.bench, self.bench.profile.thresholds
        with self.record.step(PHASES[5]):
            b.load.set_power(self.params.power_w)
            before = b.now()
            b.load.input_on()
            self.result.load_on_at = before
            v = b.load.measure()
            self.record.measure("load power drawn", v.power, "W",
                                low=self.params.power_w * Decimal("0.98"),
                                high=self.params.power_w * Decimal("1.02"))
            self._wait_until(lambda r, s: r <= t.alarm1, "alarm 1")
            self.result.alarm1_at = b.now()
            self._wait_until(lambda r, s: bool(s & di.SW3_PRE_TRIP_ALARM), "alarm 2 (pre-trip)")
            self.result.alarm2_at = b.now()
            self.record.measure("alarm 1 observed after", _hours(before, self.result.alarm1_at),
                                "h", description="predicted "
                                f"{self._predicted_hours(t.alarm1)} h from load power and tariff")
            self.record.measure("alarm 2 observed after", _hours(before, self.result.alarm2_at),
                                "h", description="predicted "
                                f"{self._predicted_hours(t.alarm2)} h from load power and tariff")

    def consume_to_cutoff(self) -> None:
        with self.record.step(PHASES[6]):
            _, status = self._wait_until(lambda r, s: bool(s & di.SW3_RELAY_OPEN), "cut-off")
            self.record.measure("relay open (status word 3)", bool(status & di.SW3_RELAY_OPEN),
                                equals=True)

    def verify_cutoff(self) -> None:
        b = self.bench
        with self.record.step(PHASES[7]):
            trip = di.to_datetime(str(b.meter.read(di.LAST_TRIP_RECORD)))
            self.result.cutoff_at = trip.replace(tzinfo=b.clock.epoch.tzinfo)
            predicted = self._predicted_hours(-b.profile.thresholds.overdraft_limit)
            actual = _hours(self.result.load_on_at, self.result.cutoff_at)
            # The meter's trip time is exact to its clock (1 s); the load-on instant is known
            # to the polling window of the command that switched it on.
            slack = Decimal(str(round(0.5 * b.clock.scale / 3600, 3))) + Decimal("0.01")
            self.record.measure("cut-off after load on (meter trip record)", actual, "h",
                                low=predicted - slack, high=predicted + slack,
                                description=f"predicted {predicted} h")
            m = b.load.measure()
            self.record.measure("load current after cut-off", abs(m.current), "A",
                                high=CUTOFF_CURRENT_LIMIT_A)
            remaining = Decimal(str(b.meter.read(self._remaining_di)))
            self.record.measure("remaining credit at cut-off", remaining,
                                self.result.credit_unit, equals=Decimal("0.00"))

    def load_off(self) -> None:
        with self.record.step(PHASES[8]):
            self.bench.load.input_off()
            self.record.measure("load input", self.bench.load.input_state(), equals=False)

    def collect_readback(self) -> None:
        b = self.bench
        with self.record.step(PHASES[9]):
            delivery = b.courier.move("meter")
            self.record.measure("meter display", delivery.meter_message)
            if not delivery.accepted:
                raise RigError(f"meter refused the card: {delivery.meter_message}")
            b.courier.move("writer")

    def reconcile(self) -> None:
        b = self.bench
        with self.record.step(PHASES[10]), b.card_at_writer() as conn:
            record = self.station.read_readback(conn, b.profile.card.key_revision)
            self.record.measure("readback last sequence", record.last_sequence,
                                equals=self.result.vend_sequence)
            self.record.measure("readback relay open", record.relay_open, equals=True)
            uploaded = self.station.upload_readback(conn, b.profile.card.key_revision)
        with self.record.step(PHASES[11]):
            result = uploaded.reconciliation
            meter = self.billing.meter(self._meter_no)
            consumed_wh = record.energy_wh - meter.commissioning_energy_wh
            self.result.energy_consumed_kwh = Decimal(consumed_wh) / 1000
            self.result.verdict = str(result.verdict)
            self.record.measure("energy consumed (meter readback)",
                                self.result.energy_consumed_kwh, "kWh")
            for check in result.checks:
                self.record.measure(f"reconcile: {check.name}", check.actual,
                                    equals=check.actual if check.passed else check.expected,
                                    description=f"expected {check.expected} ± {check.tolerance}")
            self.record.attach("reconciliation evidence",
                               json.dumps(result.evidence, indent=2, default=str),
                               "application/json")
            self.record.measure("reconciliation verdict", self.result.verdict,
                                equals="balanced")
