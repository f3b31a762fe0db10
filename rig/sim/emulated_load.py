"""The emulated electronic load: state, physics and measurement noise, per instrument model.

The bench world asks `EmulatedLoad.drawn_power` how much power flows through the meter *now*;
`before_change` lets the world integrate energy up to the instant of a change with the old state,
so energy bookkeeping is exact regardless of when the SCPI commands arrive. One `SimModel` per
driver dialect says how the emulated instrument identifies itself, which modes and ranges it has,
what it can measure (power factor, accumulated energy) and its accuracy: every reading is the true
value plus uniform noise inside that model's spec (hard bounds, reproducible with ``seed``).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from rig.load.dialects import LoadMode

VERSION = "0.1.0"
ZERO = Decimal(0)
ONE = Decimal(1)

#: (relative part, absolute offset) of each rig-sim reading's error bound
VOLTAGE_SPEC = (Decimal("0.0005"), Decimal("0.02"))
CURRENT_SPEC = (Decimal("0.0005"), Decimal("0.002"))
POWER_SPEC = (Decimal("0.001"), Decimal("0.05"))

_V_STEP = Decimal("0.001")
_I_STEP = Decimal("0.0001")
_P_STEP = Decimal("0.001")
_PF_STEP = Decimal("0.001")
_WH_STEP = Decimal("0.001")

#: The noise factors, -1.000 .. 1.000 in steps of 0.001, indexed by one ``randrange(2001)`` draw
#: (the draw ``randint(-1000, 1000)`` makes, so seeded readings are unchanged): a MEAS query
#: picks its factor instead of building and dividing a Decimal on every reply.
_NOISE_FACTORS = tuple(Decimal(i) / 1000 for i in range(-1000, 1001))


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


Spec = tuple[Decimal, Decimal]


@dataclass(frozen=True)
class SimModel:
    """What the emulated load is, per dialect: identity, modes, ranges, readings and accuracy.

    ``pf_spec`` is the absolute error bound of the power-factor reading (None: the model has no
    PF measurement); ``energy`` says whether it keeps an accumulated-energy register, read with
    the power reading's relative error.
    """

    dialect: str
    idn_format: str  # ``{serial}`` is replaced
    modes: tuple[LoadMode, ...]
    limits: Limits
    voltage_spec: Spec
    current_spec: Spec
    power_spec: Spec
    pf_spec: Decimal | None = None
    energy: bool = False


def _d(*values: str) -> Spec:
    return Decimal(values[0]), Decimal(values[1])


_AC_MODES = (LoadMode.CC, LoadMode.CP, LoadMode.CR)

#: Emulated instruments by dialect name. Vendor accuracies are representative of each family's
#: datasheet class, not copied from one model's calibration sheet (see docs/load.md).
SIM_MODELS: Mapping[str, SimModel] = MappingProxyType({m.dialect: m for m in (
    SimModel("rig-sim", "rig,SimLoad-AC,{serial},0.1.0", _AC_MODES, Limits(),
             VOLTAGE_SPEC, CURRENT_SPEC, POWER_SPEC, pf_spec=Decimal("0.005"), energy=True),
    SimModel("chroma-63800", "Chroma, 63804, {serial}, 1.00", _AC_MODES,
             Limits(Decimal(4500), Decimal(45), Decimal("1.5"), Decimal(10000)),
             _d("0.001", "0.1"), _d("0.001", "0.01"), _d("0.002", "1"),
             pf_spec=Decimal("0.01")),
    SimModel("itech-it8600", "ITECH Ltd., IT8615, {serial}, 1.09-1.04", _AC_MODES,
             Limits(Decimal(1800), Decimal(20), Decimal("0.5"), Decimal(10000)),
             _d("0.001", "0.1"), _d("0.001", "0.005"), _d("0.002", "0.5"),
             pf_spec=Decimal("0.01")),
    SimModel("keysight-n3300", "Agilent Technologies,N3304A,{serial},A.01.02",
             (LoadMode.CC, LoadMode.CR),
             Limits(Decimal(300), Decimal(60), Decimal("0.5"), Decimal(10000)),
             _d("0.0005", "0.02"), _d("0.001", "0.006"), _d("0.002", "0.5")),
    SimModel("generic-scpi", "rig,SimLoad-Generic,{serial},0.1.0", _AC_MODES, Limits(),
             VOLTAGE_SPEC, CURRENT_SPEC, POWER_SPEC),
)})


def sim_model(dialect: str) -> SimModel:
    """The emulated instrument for ``dialect``; ValueError listing the known ones."""
    try:
        return SIM_MODELS[dialect]
    except KeyError:
        raise ValueError(
            f"no emulated load speaks dialect {dialect!r}; known: {', '.join(SIM_MODELS)}"
        ) from None


class EmulatedLoad:
    """Thread-safe state of the emulated load; the SCPI server and the bench world share it.

    Two locks: ``_change`` serialises setters across ``before_change`` + apply; ``_state`` is held
    only briefly and never while calling out, so ``before_change`` may call `drawn_power` (and
    take the world's own lock) without deadlock.
    """

    def __init__(
        self,
        supply: Callable[[], Supply],
        *,
        dialect: str = "rig-sim",
        before_change: Callable[[], None] | None = None,
        energy_source: Callable[[], Decimal] | None = None,
        serial: str = "SIM0001",
        noise: bool = True,
        seed: int | None = None,
        limits: Limits | None = None,
    ) -> None:
        """``energy_source`` gives the true Wh drawn so far (the bench world's integral); without
        it the load integrates its own drawn power on the wall clock (a stand-alone load)."""
        self.model = sim_model(dialect)
        self.dialect = dialect
        self.modes: tuple[LoadMode, ...] = self.model.modes
        self._supply = supply
        self._before_change = before_change
        self._energy_source = energy_source
        self.serial = serial
        self.noise = noise
        self.limits = limits or self.model.limits
        self._rng = random.Random(seed)
        self._reading_specs = ((self.model.voltage_spec, _V_STEP),
                               (self.model.current_spec, _I_STEP),
                               (self.model.power_spec, _P_STEP))
        self._own_energy_j = ZERO
        self._own_energy_t = time.monotonic()
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
        return self.model.idn_format.format(serial=self.serial)

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
            self._integrate_own_energy()
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
    def _true_values(self, supply: Supply | None = None) -> tuple[Decimal, Decimal, Decimal]:
        supply = supply if supply is not None else self._supply()
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

    def drawn_power(self, supply: Supply | None = None) -> Decimal:
        """True power (W) through the meter: 0 unless input on and relay closed.

        ``supply`` lets the world ask about a past segment (a voltage sag) instead of now.
        """
        return self._true_values(supply)[2]

    def _integrate_own_energy(self) -> None:
        if self._energy_source is not None:
            return
        now = time.monotonic()
        watts = self.drawn_power()
        with self._state:
            self._own_energy_j += watts * Decimal(now - self._own_energy_t)
            self._own_energy_t = now

    def true_energy_wh(self) -> Decimal:
        """Energy drawn so far (Wh): the world's exact integral, or the load's own."""
        if self._energy_source is not None:
            return self._energy_source()
        self._integrate_own_energy()
        with self._state:
            return self._own_energy_j / 3600

    def _noise(self) -> Decimal:
        """Uniform in [-1, 1] (steps of 0.001); 0 with noise off."""
        return _NOISE_FACTORS[self._rng.randrange(2001)] if self.noise else ZERO

    def _noisy(self, value: Decimal, spec: Spec, step: Decimal) -> Decimal:
        bound = abs(value) * spec[0] + spec[1]
        return (value + bound * self._noise()).quantize(step)

    def measure(self) -> tuple[Decimal, Decimal, Decimal]:
        """Readings (V, A, W): true values plus noise within the model's accuracy spec."""
        volts, amps, watts = self._true_values()
        m = self.model
        with self._state:  # Random is not thread-safe
            return (
                self._noisy(volts, m.voltage_spec, _V_STEP),
                self._noisy(amps, m.current_spec, _I_STEP),
                self._noisy(watts, m.power_spec, _P_STEP),
            )

    def reading(self, quantity: int) -> Decimal:
        """One reading of ``measure()`` (0 V, 1 A, 2 W) with only its own noise drawn: a
        MEAS query answers one quantity, and the server's reply time is part of every RTT."""
        true = self._true_values()[quantity]
        spec, step = self._reading_specs[quantity]
        with self._state:
            return self._noisy(true, spec, step)

    def measure_pf(self) -> Decimal:
        """Power factor reading: the load is resistive (1) while current flows, 0 otherwise."""
        if self.model.pf_spec is None:
            raise ScpiError(-113, "Undefined header")
        _, amps, _ = self._true_values()
        if amps <= 0:
            return Decimal("0.000")
        with self._state:
            reading = ONE - abs(self._noise()) * self.model.pf_spec  # PF never reads above 1
        return reading.quantize(_PF_STEP)

    def energy_reading(self) -> Decimal:
        """Accumulated-energy reading (Wh), with the power reading's relative error."""
        if not self.model.energy:
            raise ScpiError(-113, "Undefined header")
        true_wh = self.true_energy_wh()
        with self._state:
            return (true_wh * (ONE + self.model.power_spec[0] * self._noise())).quantize(_WH_STEP)
