"""The simulated world of an emulated bench: one clock, one grid, one load, one meter.

Current flows only while the meter's relay is closed and the load's input is on; the meter
integrates it on the accelerated bench clock. Every state change (a SCPI command, a card
insertion) first brings the world up to "now" with the old state, and a ticker keeps it
moving while nobody asks, so energy is exact whoever looks and however often.
"""

from __future__ import annotations

import threading
from decimal import Decimal

from rig.clock import BenchClock
from rig.profile import MeterProfile
from rig.sim.emulated_load import EmulatedLoad, Supply
from rig.sim.prepaid import PrepaidEngine


class BenchWorld:
    """Couples grid voltage, load and meter on one bench clock."""

    def __init__(
        self,
        profile: MeterProfile,
        clock: BenchClock,
        *,
        noise: bool = True,
        seed: int | None = None,
    ) -> None:
        self.profile = profile
        self.clock = clock
        self.lock = threading.RLock()
        self.engine = PrepaidEngine(profile)
        self.voltage: Decimal = profile.metering.nominal_voltage
        self.load = EmulatedLoad(self.supply, before_change=self.advance, noise=noise, seed=seed)
        self._last = clock.elapsed()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def supply(self) -> Supply:
        """What the load sees at its terminals: grid voltage behind the meter's relay."""
        return Supply(voltage=self.voltage, connected=self.engine.relay_closed)

    def advance(self) -> None:
        """Integrate from the last instant to now with the current state."""
        with self.lock:
            now = self.clock.elapsed()
            dt = now - self._last
            if dt <= 0:
                return
            self.engine.advance(dt, self.load.drawn_power(), self.clock.at(self._last))
            self._last = now

    def set_voltage(self, volts: Decimal) -> None:
        with self.lock:
            self.advance()
            self.voltage = volts

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
