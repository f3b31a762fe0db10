"""The full prepaid cycle: buy → insert → consume to alarm → cut-off → readback → reconcile.

Every phase is a recorded step with its measurements; the expectations come from the meter
profile and the billing centre's tariff, never from the emulator, so the same scenario
certifies a real meter on a real bench.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from rig.bench.bench import Bench
from rig.billing.centre.facade import BillingCentre
from rig.billing.types import ReconciliationResult, VendResult
from rig.report.plot import attach_plot
from rig.report.record import RunRecord
from rig.scenarios import expect
from rig.scenarios.cert_base import alarm1_seen, measure_timing
from rig.scenarios.certification_printer import attach_printed_receipt
from rig.scenarios.reconcile_limits import BASIS, measure_checks
from rig.scenarios.steps import BenchSteps, MeterState, Observed

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


@dataclass(frozen=True)
class CycleParams:
    """What to buy and how hard to draw; defaults give ~19 bench hours of consumption."""

    amount: Decimal = Decimal("20.00")
    power_w: Decimal = Decimal(2000)
    price_per_kwh: Decimal = Decimal("0.5283")
    poll_s: float = 0.02  # real seconds between meter polls
    max_bench_hours: float = 200.0


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
        self.record = record
        self.params = params or CycleParams()
        self.steps = BenchSteps(bench, billing, record)
        self.result = CycleResult(credit_unit=self.steps.unit)
        self._commissioning_wh = 0
        self._supply_paused_h = Decimal(0)  # bench hours the relay stood open at an alarm-2 trip
        self._deadline: tuple[datetime | None, str] = (None, "")  # of the alarm phase

    def run(self) -> CycleResult:
        try:
            self.register()
            self.issue_card()
            vend = self.buy()
            self.write_purchase(vend)
            self.apply_credit()
            self.consume_to_alarm()
            self.consume_to_cutoff()
            self.verify_cutoff()
            self.load_off()
            self.collect_readback()
            self.reconcile()
        finally:
            self.bench.safe_state()
            self._attach_evidence()
        return self.result

    def _attach_evidence(self) -> None:
        s = self.steps
        if s.series.samples:
            for label, at in (("alarm 1", self.result.alarm1_at),
                              ("alarm 2", self.result.alarm2_at),
                              ("cut-off", self.result.cutoff_at)):
                if at is not None:
                    s.series.events[label] = s.hours_since_load_on(at)
            attach_plot(self.record, s.series)
        self.record.attach("meter serial transcript", self.bench.meter_transcript.to_text())
        self.record.attach("card APDU trace (secrets redacted)", self.bench.apdu_trace.to_text())
        if self.bench.scpi_log is not None:
            self.record.attach("load SCPI log", self.bench.scpi_log.to_text())

    # -- the phases ------------------------------------------------------------------
    def register(self) -> None:
        with self.record.step(PHASES[0]):
            self.record.measure("meter communication address", self.steps.meter.address(),
                                equals=self.steps.meter_no)
            self._commissioning_wh = self.steps.register(self.params.price_per_kwh)
            self.record.measure("commissioning energy",
                                Decimal(self._commissioning_wh) / 1000, "kWh")

    def issue_card(self) -> None:
        with self.record.step(PHASES[1]):
            bound = self.steps.issue_card()
            self.record.measure("card bound to meter", bound, equals=self.steps.meter_no)

    def buy(self) -> VendResult:
        with self.record.step(PHASES[2]):
            vend = self.steps.vend(self.params.amount)
            self.result.credit_bought = self.steps.credit_of(vend)
            self.result.vend_sequence = vend.sequence
            self.record.measure("amount paid", vend.amount, self.bench.profile.credit.currency,
                                equals=self.params.amount, basis="the amount asked for")
            self.record.measure("credit bought", self.result.credit_bought, self.steps.unit)
            self.record.measure("purchase sequence", vend.sequence, low=Decimal(1))
            self.measure_medium(vend)
            attach_printed_receipt(self.steps, vend)  # the station's receipt (issue 29)
            return vend

    def measure_medium(self, vend: VendResult) -> None:
        """What carries the credit to the meter, measured as it is sold: the card cycle
        writes it in the next phase; the token cycle measures the token here."""

    def write_purchase(self, vend: VendResult) -> None:
        with self.record.step(PHASES[3]):
            written = self.steps.write_vend(vend)
            self.record.measure("purchase on card", written, equals=vend.sequence)

    def apply_credit(self) -> None:
        with self.record.step(PHASES[4]):
            delivery = self.steps.insert_into_meter()
            self.record.measure("meter display", delivery.meter_message)
            state = self.steps.meter.state()
            self.record.measure("remaining credit after insertion", state.remaining,
                                self.steps.unit, equals=self.result.credit_bought)
            self.record.measure("relay closed after purchase", not state.relay_open,
                                equals=True)

    def _predicted_hours(self, credit_left: Decimal, places: str = "0.001") -> Decimal:
        """Bench hours from load-on until credit falls to `credit_left` at constant power."""
        spent = self.result.credit_bought - credit_left
        kwh = spent / self.params.price_per_kwh if self.steps.money else spent
        return (kwh * 1000 / self.params.power_w).quantize(Decimal(places))

    def _hours_to(self, at: datetime) -> Decimal:
        hours = _hours(self.result.load_on_at, at)
        assert hours is not None
        return hours

    def consume_to_alarm(self) -> None:
        s, p, prm = self.steps, self.bench.profile, self.params
        t = p.thresholds
        with self.record.step(PHASES[5]):
            self.result.load_on_at = s.load_on(prm.power_w)
            power = self.bench.load.measure().power
            self.record.measure("load power drawn", power, "W", low=prm.power_w * Decimal("0.98"),
                                high=prm.power_w * Decimal("1.02"),
                                basis="load set point ± 2 %")
            assert s.load_on_window is not None
            self._deadline = self._alarm_deadline()
            alarm2 = self._alarm2_seen
            # A bracket starts at the send time of the last poll that did not see the alarm
            # (for the first poll of a watch: load-on, or the poll confirming alarm 1).
            seen1, after1, after1_sent, after1_at = self._watch_confirmed(alarm1_seen(s),
                                                                          "alarm 1")
            if seen1.before is None:
                seen1 = Observed(seen1.state, None, s.load_on_window[0], seen1.latest)
            if alarm2(seen1.state):  # both levels passed between two polls: one bracket
                seen2 = seen1
            elif alarm2(after1):  # passed while alarm 1 was being confirmed
                seen2 = Observed(after1, seen1.state, seen1.earliest, after1_at)
            else:
                seen2 = self._watch_confirmed(alarm2, "alarm 2")[0]
                if seen2.before is None:
                    seen2 = Observed(seen2.state, after1, after1_sent, seen2.latest)
            self.result.alarm1_at, self.result.alarm2_at = seen1.latest, seen2.latest
            for name, seen, level in (("alarm 1", seen1, t.alarm1), ("alarm 2", seen2, t.alarm2)):
                if self.result.credit_bought <= level:  # bought below the level: no wait
                    self.record.measure(f"{name} seen on the first poll after load on",
                                        seen.before is None, equals=True,
                                        basis=f"credit bought {self.result.credit_bought} <= "
                                              f"{name} level {level} (profile)")
                    continue
                predicted = self._predicted_hours(level, places="0.0001")
                measure_timing(s, f"{name} observed after", seen.window, s.load_on_window,
                               predicted, expect.timing_tolerance_h(
                                   p, predicted, prm.price_per_kwh, prm.power_w))

    @staticmethod
    def _alarm2_seen(m: MeterState) -> bool:
        return m.pre_trip_alarm

    def _alarm_deadline(self) -> tuple[datetime, str]:
        """The latest bench instant alarm 2 (the later alarm) may be seen: its predicted time
        plus the profile's declared tolerance and the polling slack. A meter (or a load) that
        runs slower fails the phase here instead of waiting out the bench's patience."""
        p = self.bench.profile
        predicted = max(self._predicted_hours(p.thresholds.alarm2, places="0.0001"),
                        Decimal(0))
        return self._deadline_after(predicted, f"alarm 2 predicted {predicted} h after load on")

    def _deadline_after(self, predicted: Decimal, what: str) -> tuple[datetime, str]:
        """The latest bench instant an event predicted ``predicted`` hours after load on may
        be seen: plus the profile's declared timing tolerance and the polling slack."""
        p, prm = self.bench.profile, self.params
        tolerance = expect.timing_tolerance_h(p, predicted, prm.price_per_kwh, prm.power_w)
        tolerance = tolerance.quantize(Decimal("0.0001"))
        slack = self._polling_slack()
        assert self.result.load_on_at is not None
        latest = self.result.load_on_at + timedelta(hours=float(predicted + tolerance + slack))
        return latest, (f"{what} ± {tolerance} h (profile accuracy class and register "
                        f"resolution), plus {slack} h for polling")

    def _polling_slack(self) -> Decimal:
        """Bench hours by which polling may misplace an instant, plus 36 s: half a second of
        wall time, or twice the widest gap between two polls seen so far in this run if that
        is longer (a busy machine's polls are further apart in bench time; an alarm-2 trip's
        pause is bracketed by two observations, each up to one gap late)."""
        gap_h = self.steps.longest_poll_gap.total_seconds() / 3600
        hours = max(0.5 * self.bench.clock.scale / 3600, 2 * gap_h)
        return Decimal(str(round(hours, 3))) + Decimal("0.01")

    def _watch_confirmed(self, done: Callable[[MeterState], bool],
                         what: str) -> tuple[Observed, MeterState, datetime, datetime]:
        """Bracket the bench instant `done` became true (see BenchSteps.watch), confirmed by
        the next poll, so a corrupted reply that slipped past the frame checksum cannot end
        the wait; returns the bracket and the confirming poll with its send and answer
        times."""
        s, prm = self.steps, self.params
        deadline, requirement = self._deadline
        while True:
            seen = s.watch(done, what, poll_s=prm.poll_s, max_bench_hours=prm.max_bench_hours,
                           deadline=deadline, requirement=requirement)
            sent = self.bench.now()
            state = s.poll()
            if done(state):
                return seen, state, sent, self.bench.now()

    def consume_to_cutoff(self) -> None:
        prm = self.params
        s, t = self.steps, self.bench.profile.thresholds
        with self.record.step(PHASES[6]):
            state = s.wait_for(lambda m: m.relay_open, "cut-off", poll_s=prm.poll_s,
                               max_bench_hours=prm.max_bench_hours,
                               deadline=self._cutoff_deadline())
            if "relay_trip" in t.alarm2_actions and state.remaining > 0:
                # This meter trips at alarm 2 while credit is left; the customer acknowledges
                # with the card, supply returns, and consumption goes on to the real cut-off.
                # The relay opened at alarm 2, so the latest instant alarm 2 was seen bounds
                # the trip within one poll. When this phase began polling does not: the time
                # between the two phases is no poll gap, and at 14400x half a second of it is
                # two bench hours of pause the prediction would miss.
                tripped = self.result.alarm2_at or self.bench.now()
                self.record.measure("credit left at the alarm-2 relay trip", state.remaining,
                                    s.unit, low=Decimal(0), high=t.alarm2)
                s.insert_into_meter()
                s.wait_for(lambda m: not m.relay_open, "reconnection after the alarm-2 trip",
                           poll_s=prm.poll_s, max_bench_hours=prm.max_bench_hours)
                paused = expect.hours(self.bench.now() - tripped)
                self._supply_paused_h += paused.quantize(Decimal("0.001"))
                state = s.wait_for(lambda m: m.relay_open, "cut-off", poll_s=prm.poll_s,
                                   max_bench_hours=prm.max_bench_hours,
                                   deadline=self._cutoff_deadline())
            self.record.measure("relay open (meter status)", state.relay_open, equals=True)

    def _cutoff_prediction(self) -> tuple[Decimal, str]:
        """Hours from load on to the cut-off, and how they were predicted: credit down to the
        overdraft limit (after any automatic emergency credit), the supply paused at an
        alarm-2 trip, and a friendly period that defers the cut-off to its end."""
        b = self.bench
        lent = expect.automatic_emergency(b.profile)
        predicted = (self._predicted_hours(-b.profile.thresholds.overdraft_limit - lent)
                     + self._supply_paused_h)
        how = f"predicted {predicted} h from load power and tariff"
        if lent:
            how += f" (with {lent} {self.steps.unit} automatic emergency credit)"
        assert self.result.load_on_at is not None
        exhausted = self.result.load_on_at + timedelta(hours=float(predicted))
        deferred = expect.friendly_period_end(b.profile, exhausted)
        if deferred is not None:  # no cut-off inside a friendly period: at its end
            predicted = self._hours_to(deferred)
            how = (f"credit runs out at {exhausted:%Y-%m-%d %H:%M}, inside a friendly "
                   f"period; cut-off predicted at its end, {predicted} h")
        return predicted, how

    def _cutoff_deadline(self) -> tuple[datetime, str]:
        predicted, how = self._cutoff_prediction()
        return self._deadline_after(max(predicted, Decimal(0)), f"cut-off {how}")

    def verify_cutoff(self) -> None:
        b = self.bench
        with self.record.step(PHASES[7]):
            self.result.cutoff_at = self.steps.meter.last_cutoff()
            # The meter cuts off at the overdraft limit, after lending its automatic emergency
            # credit if it has one; nothing is consumed while the relay stood open at an
            # alarm-2 trip (as observed).
            predicted, how = self._cutoff_prediction()
            assert self.result.load_on_at is not None
            actual = _hours(self.result.load_on_at, self.result.cutoff_at)
            # The meter's trip record is exact to its clock (1 s); the load-on instant is
            # known to within the round trip of the command that switched it on.
            slack = self._polling_slack()
            self.record.measure("cut-off after load on (meter trip record)", actual, "h",
                                low=predicted - slack, high=predicted + slack,
                                description=how)
            current = abs(b.load.measure().current)
            self.record.measure("load current after cut-off", current, "A",
                                high=CUTOFF_CURRENT_LIMIT_A)
            self.record.measure("remaining credit at cut-off", self.steps.meter.remaining(),
                                self.steps.unit, equals=Decimal("0.00"))

    def load_off(self) -> None:
        with self.record.step(PHASES[8]):
            self.steps.load_off()
            self.record.measure("load input", self.bench.load.input_state(), equals=False)

    def collect_readback(self) -> None:
        with self.record.step(PHASES[9]):
            delivery = self.steps.insert_into_meter()
            self.record.measure("meter display", delivery.meter_message)
            self.steps.card_to_writer()

    def reconcile(self) -> None:
        with self.record.step(PHASES[10]):
            readback = self.steps.read_readback()
            self.record.measure("readback last sequence", readback.fields["last_sequence"],
                                equals=self.result.vend_sequence)
            self.record.measure("readback relay open", readback.fields["relay_open"], equals=True)
        with self.record.step(PHASES[11]):
            uploaded = self.steps.upload_readback()
            result = uploaded.reconciliation
            consumed_wh = uploaded.readback.fields["energy_wh"] - self._commissioning_wh
            self.result.energy_consumed_kwh = Decimal(consumed_wh) / 1000
            self.result.verdict = str(result.verdict)
            self.record.measure("energy consumed (meter readback)",
                                self.result.energy_consumed_kwh, "kWh",
                                description="judged by the reconciliation checks below")
            mac = result.evidence.get("mac", {})
            self.record.measure(
                "readback MAC verified by the centre", bool(mac.get("verified_by_centre")),
                equals=True, description=f"readback key {mac.get('key_id')}"
                + (" (public test key)" if mac.get("public_test_key") else ""))
            record_reconciliation(self.record, result,
                                  self.bench.profile.credit.currency if self.steps.money
                                  else "Wh")


def record_reconciliation(record: RunRecord, result: ReconciliationResult,
                          consumption_unit: str) -> None:
    """The centre's reconciliation in the record: each check judged by the centre's rule
    (its requirement, never the value read back) and the verdict (the evidence is attached
    where the readback is uploaded, BenchSteps.upload_readback)."""
    measure_checks(record, result.checks, "reconcile: ", {"conservation": consumption_unit})
    record.measure("reconciliation verdict", str(result.verdict), equals="balanced",
                   basis=BASIS)
