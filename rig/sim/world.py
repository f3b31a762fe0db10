"""The simulated world of an emulated bench: one clock, one grid, one load, one meter.

Current flows only while the meter's relay is closed and the load's input is on; the meter
integrates it on the accelerated bench clock. Every state change (a SCPI command, a card
insertion, a grid event) first brings the world up to "now" with the old state, and a ticker
keeps it moving while nobody asks, so energy is exact whoever looks and however often.

The load's own energy register is integrated here too, from the same true power over the same
bench seconds the meter sees, and stops at the instant the relay opens: the two agree up to the
meter's whole-Wh resolution (and, read through SCPI, the load's stated accuracy).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from rig.profile import MeterProfile
from rig.sim.emulated_load import EmulatedLoad, Limits, Supply, sim_model
from rig.sim.prepaid import PrepaidEngine

ONE = Decimal(1)
HEADROOM = Decimal("1.5")  # a bench load can draw this much more than the meter's power limit


def load_limits_for(profile: MeterProfile, model: Limits) -> Limits:
    """The emulated load's ranges on a bench for ``profile``: the model's, raised to 1.5x the
    profile's power limit when that is beyond them (a real bench for a 10 kW three-phase meter
    has load units in parallel), so a test can always exceed the limit and see the trip."""
    lim = profile.power_limit
    if lim is None:
        return model
    volts = profile.metering.nominal_voltage * profile.metering.phases
    watts = [w for w in (lim.max_power_w, lim.max_current_a and lim.max_current_a * volts) if w]
    need_w = max(watts) * HEADROOM
    need_a = (need_w / profile.metering.nominal_voltage).to_integral_value()
    if need_w <= model.max_power and need_a <= model.max_current:
        return model
    return Limits(max(model.max_power, need_w.to_integral_value()),
                  max(model.max_current, need_a), model.min_resistance, model.max_resistance)


class Clock(Protocol):
    """What the world needs of `rig.clock.BenchClock` (tests pass a hand-driven clock)."""

    def elapsed(self) -> float: ...

    def at(self, bench_seconds: float) -> datetime: ...

    def now(self) -> datetime: ...


@dataclass(frozen=True)
class GridEvent:
    """A sag (factor < 1) or swell (factor > 1) of the grid voltage over bench seconds."""

    start: float
    end: float
    factor: Decimal


class BenchWorld:
    """Couples grid voltage, load and meter on one bench clock."""

    def __init__(
        self,
        profile: MeterProfile,
        clock: Clock,
        *,
        noise: bool = True,
        seed: int | None = None,
        dialect: str = "rig-sim",
    ) -> None:
        self.profile = profile
        self.clock = clock
        self.lock = threading.RLock()
        self.engine = PrepaidEngine(profile)
        self.nominal_voltage: Decimal = profile.metering.nominal_voltage
        self._events: list[GridEvent] = []
        self.outage = False
        self._load_energy_j = Decimal(0)
        self.load = EmulatedLoad(self.supply, dialect=dialect, before_change=self.advance,
                                 energy_source=self.load_energy_wh, noise=noise, seed=seed,
                                 limits=load_limits_for(profile, sim_model(dialect).limits))
        self._last = clock.elapsed()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    # -- the grid ---------------------------------------------------------------------
    def voltage_at(self, t: float) -> Decimal:
        """Grid RMS voltage at bench second ``t``: nominal times every active sag/swell
        (0 during an outage, which is a state: the caller has integrated up to its start)."""
        if self.outage:
            return Decimal(0)
        volts = self.nominal_voltage
        for event in self._events:
            if event.start <= t < event.end:
                volts *= event.factor
        return volts

    @property
    def voltage(self) -> Decimal:
        """Grid RMS voltage now."""
        with self.lock:
            return self.voltage_at(self.clock.elapsed())

    def set_voltage(self, volts: Decimal) -> None:
        """Set the grid's steady voltage (sags and swells still apply on top)."""
        volts = Decimal(volts)
        if not volts.is_finite() or volts < 0:
            raise ValueError(f"grid voltage must be a finite number >= 0 V, got {volts}")
        with self.lock:
            self.advance()
            self.nominal_voltage = volts

    def set_outage(self, out: bool) -> None:
        """Grid lost (True) or back (False) from now: the meter loses its supply with it."""
        with self.lock:
            self.advance()
            self.outage = out

    def sag(self, depth: Decimal, duration_s: float) -> GridEvent:
        """From now, lower the grid voltage by ``depth`` (0.3 = to 70 %) for ``duration_s``."""
        depth = Decimal(depth)
        if not depth.is_finite() or not 0 < depth <= 1:
            raise ValueError(f"sag depth must be in (0, 1], got {depth}")
        return self._grid_event(ONE - depth, duration_s)

    def swell(self, rise: Decimal, duration_s: float) -> GridEvent:
        """From now, raise the grid voltage by ``rise`` (0.1 = to 110 %) for ``duration_s``."""
        rise = Decimal(rise)
        if not rise.is_finite() or not 0 < rise <= 1:
            raise ValueError(f"swell rise must be in (0, 1], got {rise}")
        return self._grid_event(ONE + rise, duration_s)

    def _grid_event(self, factor: Decimal, duration_s: float) -> GridEvent:
        if not duration_s > 0:
            raise ValueError(f"grid event duration must be > 0 bench seconds, got {duration_s}")
        with self.lock:
            self.advance()
            start = self.clock.elapsed()
            event = GridEvent(start, start + float(duration_s), factor)
            self._events.append(event)
            return event

    def supply(self) -> Supply:
        """What the load sees at its terminals now: grid voltage behind the meter's relay."""
        return Supply(voltage=self.voltage, connected=self.engine.relay_closed)

    # -- integration --------------------------------------------------------------------
    def load_energy_wh(self) -> Decimal:
        """True energy the load has drawn (Wh), integrated up to now."""
        with self.lock:
            self.advance()
            return self._load_energy_j / 3600

    def advance(self) -> None:
        """Integrate from the last instant to now, segment by segment between grid events."""
        with self.lock:
            now = self.clock.elapsed()
            if now <= self._last:
                return
            bounds = sorted({now, *(b for e in self._events for b in (e.start, e.end)
                                    if self._last < b < now)})
            t = self._last
            for end in bounds:
                self._segment(t, end)
                t = end
            self._last = now
            self._events = [e for e in self._events if e.end > now]

    def _segment(self, start: float, end: float) -> None:
        """One stretch of constant grid voltage: meter and load energy over the same seconds.

        The meter runs its clock even while no current flows (a power-limit trip recloses, a
        friendly period ends and a deferred cut-off happens, by the clock alone); if the relay
        closes inside the stretch, the load draws from that instant.
        """
        volts = self.voltage_at(start)
        t = start
        while t < end:
            closed = self.engine.relay_closed
            power = self.load.drawn_power(Supply(volts, closed))
            begin = self.clock.at(t)
            if power <= 0 and self.engine.reconnect_at is None:
                # Nothing flows, but the meter's clock still runs (friendly periods, close rules).
                self.engine.advance(end - t, Decimal(0), begin)
                return
            self.engine.advance(end - t, power, begin)
            on_s = end - t
            if closed and not self.engine.relay_closed:  # opened inside: current stopped there
                opened = self._relay_opened_at(begin)
                if opened is not None:
                    on_s = min(on_s, max(0.0, (opened - begin).total_seconds()))
            if power > 0:
                self._load_energy_j += power * Decimal(on_s)
            reclosed = self.engine.events.last_reconnect
            if closed or not self.engine.relay_closed or reclosed is None or reclosed <= begin:
                return
            t += (reclosed - begin).total_seconds()  # closed inside: the load draws from here

    def _relay_opened_at(self, since: datetime) -> datetime | None:
        """The instant the engine recorded for the trip that just opened the relay.

        The latest event time at or after ``since`` (cut-off, or any other trip the engine
        records); None if it recorded none, and then the whole segment is counted.
        """
        times = [v for v in vars(self.engine.events).values()
                 if isinstance(v, datetime) and v >= since]
        return max(times) if times else None

    def power_through_meter(self) -> Decimal:
        with self.lock:
            return self.load.drawn_power() if self.engine.relay_closed else Decimal(0)

    def start(self, tick_s: float = 0.01) -> None:
        def run() -> None:
            while not self._stop.wait(tick_s):
                self.advance()

        self._ticker = threading.Thread(target=run, name="sim-world", daemon=True)
        self._ticker.start()

    def stop(self) -> None:
        self._stop.set()
        if self._ticker:
            self._ticker.join(timeout=5)
