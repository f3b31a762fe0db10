"""The emulated AC electronic load: state, physics and measurement noise.

The bench world asks `EmulatedLoad.drawn_power` how much power flows through the meter *now*;
`before_change` lets the world integrate energy up to the instant of a change with the old state,
so energy bookkeeping is exact regardless of when the SCPI commands arrive.

Accuracy spec of the emulated readings (uniform noise, bounds are hard limits):

* voltage: ±(0.05 % of reading + 0.02 V)
* current: ±(0.05 % of reading + 0.002 A)  — so an idle or disconnected load reads |I| < 0.005 A
* power:   ±(0.1 % of reading + 0.05 W)
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from rig.load.dialects import LoadMode

VERSION = "0.1.0"
ZERO = Decimal(0)

#: (relative part, absolute offset) of each reading's error bound
VOLTAGE_SPEC = (Decimal("0.0005"), Decimal("0.02"))
CURRENT_SPEC = (Decimal("0.0005"), Decimal("0.002"))
POWER_SPEC = (Decimal("0.001"), Decimal("0.05"))

_V_STEP = Decimal("0.001")
_I_STEP = Decimal("0.0001")
_P_STEP = Decimal("0.001")


class ScpiError(Exception):
    """An error the emulated instrument puts in its SCPI error queue (code, message)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code},\"{message}\"")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Supply:
    """What the load sees at its terminals: RMS voltage and whether the meter relay is closed."""

    voltage: Decimal
    connected: bool


@dataclass(frozen=True)
class Limits:
    """Programmable ranges; a set point outside them is refused with -222."""

    max_power: Decimal = Decimal(3000)
    max_current: Decimal = Decimal(20)
    min_resistance: Decimal = Decimal("0.5")
    max_resistance: Decimal = Decimal(10000)


class EmulatedLoad:
    """Thread-safe state of the emulated load; the SCPI server and the bench world share it.

    Two locks: ``_change`` serialises setters across ``before_change`` + apply; ``_state`` is held
    only briefly and never while calling out, so ``before_change`` may call `drawn_power` (and
    take the world's own lock) without deadlock.
    """

    modes: tuple[LoadMode, ...] = (LoadMode.CC, LoadMode.CP, LoadMode.CR)

    def __init__(
        self,
        supply: Callable[[], Supply],
        *,
        before_change: Callable[[], None] | None = None,
        serial: str = "SIM0001",
        noise: bool = True,
        seed: int | None = None,
        limits: Limits | None = None,
    ) -> None:
        self._supply = supply
        self._before_change = before_change
        self.serial = serial
        self.noise = noise
        self.limits = limits or Limits()
        self._rng = random.Random(seed)
        self._change = threading.Lock()
        self._state = threading.Lock()
        self._input_on = False
        self._mode = LoadMode.CP
        self._power = ZERO
        self._current = ZERO
        self._resistance = self.limits.max_resistance

    # ------------------------------------------------------------------ identity / state
    @property
    def idn(self) -> str:
        return f"rig,SimLoad-AC,{self.serial},{VERSION}"

    @property
    def input_on(self) -> bool:
        with self._state:
            return self._input_on

    @property
    def mode(self) -> LoadMode:
        with self._state:
            return self._mode

    @property
    def power_setpoint(self) -> Decimal:
        with self._state:
            return self._power

    @property
    def current_setpoint(self) -> Decimal:
        with self._state:
            return self._current

    @property
    def resistance_setpoint(self) -> Decimal:
        with self._state:
            return self._resistance

    # ------------------------------------------------------------------ changes
    def _apply(self, **changes: object) -> None:
        with self._change:
            if self._before_change is not None:
                self._before_change()
            with self._state:
                for name, value in changes.items():
                    setattr(self, f"_{name}", value)

    @staticmethod
    def _check(value: Decimal, low: Decimal, high: Decimal) -> Decimal:
        if not value.is_finite() or not low <= value <= high:
            raise ScpiError(-222, "Data out of range")
        return value

    def set_input(self, on: bool) -> None:
        self._apply(input_on=bool(on))

    def set_mode(self, mode: LoadMode) -> None:
        if mode not in self.modes:
            raise ScpiError(-224, "Illegal parameter value")
        self._apply(mode=mode)

    def set_power(self, watts: Decimal) -> None:
        self._apply(power=self._check(Decimal(watts), ZERO, self.limits.max_power))

    def set_current(self, amps: Decimal) -> None:
        self._apply(current=self._check(Decimal(amps), ZERO, self.limits.max_current))

    def set_resistance(self, ohms: Decimal) -> None:
        lim = self.limits
        self._apply(resistance=self._check(Decimal(ohms), lim.min_resistance, lim.max_resistance))

    def reset(self) -> None:
        """``*RST``: input off, CP mode, zero set points."""
        self._apply(
            input_on=False,
            mode=LoadMode.CP,
            power=ZERO,
            current=ZERO,
            resistance=self.limits.max_resistance,
        )

    # ------------------------------------------------------------------ physics
    def _true_values(self) -> tuple[Decimal, Decimal, Decimal]:
        supply = self._supply()
        volts = Decimal(supply.voltage) if supply.connected else ZERO
        with self._state:
            on, mode = self._input_on, self._mode
            power, current, resistance = self._power, self._current, self._resistance
        if not on or volts <= 0:
            return volts, ZERO, ZERO
        if mode is LoadMode.CP:
            amps = power / volts
            if amps > self.limits.max_current:  # current-limited at low line voltage
                amps = self.limits.max_current
                power = amps * volts
            return volts, amps, power
        if mode is LoadMode.CC:
            return volts, current, current * volts
        amps = min(volts / resistance, self.limits.max_current)  # CR
        return volts, amps, amps * volts

    def drawn_power(self) -> Decimal:
        """True power (W) flowing through the meter now: 0 unless input on and relay closed."""
        return self._true_values()[2]

    def _noisy(self, value: Decimal, spec: tuple[Decimal, Decimal], step: Decimal) -> Decimal:
        if self.noise:
            bound = abs(value) * spec[0] + spec[1]
            value += bound * Decimal(self._rng.randint(-1000, 1000)) / 1000
        return value.quantize(step)

    def measure(self) -> tuple[Decimal, Decimal, Decimal]:
        """Readings (V, A, W): true values plus noise within the module's accuracy spec."""
        volts, amps, watts = self._true_values()
        with self._state:  # Random is not thread-safe
            return (
                self._noisy(volts, VOLTAGE_SPEC, _V_STEP),
                self._noisy(amps, CURRENT_SPEC, _I_STEP),
                self._noisy(watts, POWER_SPEC, _P_STEP),
            )
