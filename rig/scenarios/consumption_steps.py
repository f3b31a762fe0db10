"""The steps while the meter consumes: the load switched and set, the meter polled for the
record and the plot, and waits for a condition with the bench-time bracket it became true in
and the deadline its requirement allows (BenchSteps inherits them)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

from rig.bench.bench import Bench
from rig.bench.safe_report import watts
from rig.errors import RigError
from rig.report.plot import RunSeries
from rig.report.record import RunRecord
from rig.scenarios.meter_view import MeterState, MeterView, Observed


class PhaseOverrun(AssertionError):
    """A phase ran past the time its requirement allows: a fail verdict, not a bench error."""


class ConsumptionSteps:
    """The load and the meter while consuming, on the bench, meter view, record and plot
    series that BenchSteps sets up."""

    bench: Bench
    meter: MeterView
    record: RunRecord
    series: RunSeries
    unit: str
    load_on_at: datetime | None
    load_on_window: tuple[datetime, datetime] | None
    _plot_t0: datetime | None = None  # the first point of the plot

    # The widest bench-time gap between two polls of one wait (`wait_for`, `watch`): how
    # late an event can be seen on this machine at this time scale.
    longest_poll_gap = timedelta(0)

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
