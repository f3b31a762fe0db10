"""Driver behaviour per dialect, run unchanged against a scripted instrument and the emulated load.

Against the script the exact SCPI strings are pinned (``EXACT``: written out by hand from the
vendors' programming manuals, not derived from the dialect tables, so a wrong table fails here);
against `EmulatedLoad` + `ScpiServer` speaking the same dialect the same calls must produce the
same observable behaviour through pyvisa-py.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

import pytest

from rig.errors import InstrumentError
from rig.load import ElectronicLoad, LoadMode
from rig.load.dialects import get_dialect
from rig.sim.emulated_load import SIM_MODELS, EmulatedLoad, Supply
from rig.sim.scpi_server import ScpiServer

from . import Exchange, ScriptedInstrument

NO_ERROR = '0,"No error"'
TIMEOUT_MS = 1000


@dataclass(frozen=True)
class Exact:
    """The strings one model expects (None: the model has no such command)."""

    idn: str
    on: str
    off: str
    state: str
    mode_cc: str
    mode_cp: str | None
    power: str | None  # with {} for the value
    current: str
    volts: str
    amps: str
    watts: str
    pf: str | None
    energy: str | None


EXACT: dict[str, Exact] = {
    "rig-sim": Exact("rig,SimLoad-AC,SIM0001,0.1.0", "INP ON", "INP OFF", "INP?", "FUNC CURR",
                     "FUNC POW", "POW {}", "CURR {}", "MEAS:VOLT?", "MEAS:CURR?", "MEAS:POW?",
                     "MEAS:POW:PFAC?", "MEAS:ENER?"),
    "chroma-63800": Exact("Chroma, 63804, SIM0001, 1.00", "LOAD ON", "LOAD OFF", "LOAD?",
                          "MODE CURR", "MODE POW", "POW {}", "CURR {}", "MEAS:VOLT?",
                          "MEAS:CURR?", "MEAS:POW:REAL?", "MEAS:POW:PFAC?", None),
    "itech-it8600": Exact("ITECH Ltd., IT8615, SIM0001, 1.09-1.04", "INP ON", "INP OFF", "INP?",
                          "FUNC CURR", "FUNC POW", "POW {}", "CURR {}", "MEAS:VOLT?",
                          "MEAS:CURR?", "MEAS:POW?", "MEAS:POW:PFAC?", None),
    "keysight-n3300": Exact("Agilent Technologies,N3304A,SIM0001,A.01.02", "INP ON", "INP OFF",
                            "INP?", "MODE CURR", None, None, "CURR {}", "MEAS:VOLT?",
                            "MEAS:CURR?", "MEAS:POW?", None, None),
    "generic-scpi": Exact("rig,SimLoad-Generic,SIM0001,0.1.0", "INP ON", "INP OFF", "INP?",
                          "FUNC CURR", "FUNC POW", "POW {}", "CURR {}", "MEAS:VOLT?",
                          "MEAS:CURR?", "MEAS:POW?", None, None),
}


class Target:
    """Where a behaviour test runs: ``scripted`` (exact protocol) or ``sim`` (emulated load)."""

    def __init__(self, kind: str, dialect: str) -> None:
        self.kind = kind
        self.dialect = dialect
        self.x = EXACT[dialect]
        self.supply = Supply(Decimal(230), True)
        self.load: EmulatedLoad | None = None
        self._server: ScpiServer | None = None
        self._scripted: ScriptedInstrument | None = None
        if kind == "sim":
            self.load = EmulatedLoad(lambda: self.supply, dialect=dialect, seed=7)
            self._server = ScpiServer(self.load).start()

    @property
    def open_script(self) -> list[Exchange]:
        return [("*IDN?", self.x.idn), *self.setting("*CLS")]

    @property
    def close_script(self) -> list[Exchange]:
        return self.setting(self.x.off)

    @staticmethod
    def setting(command: str) -> list[Exchange]:
        """A setting command and the status query the driver must send after it (IEEE 488.2
        *ESR?: every dialect's model has it; 0 = no event)."""
        return [(command, None), ("*ESR?", "0")]

    def open(self, script: Sequence[Exchange]) -> ElectronicLoad:
        """Open the driver; the script is enforced only on the scripted target."""
        if self._server is not None:
            resource = self._server.resource
        else:
            self._scripted = ScriptedInstrument(script)
            resource = self._scripted.resource
        by_name = get_dialect(self.dialect).idn_pattern is None  # generic: never auto-matched
        return ElectronicLoad.open(resource, dialect=self.dialect if by_name else None,
                                   timeout_ms=TIMEOUT_MS)

    def verify(self) -> None:
        if self._scripted is not None:
            self._scripted.verify()

    def close(self) -> None:
        if self._server is not None:
            self._server.stop()

    def tolerance(self, value: Decimal, spec: tuple[Decimal, Decimal]) -> Decimal:
        return abs(value) * spec[0] + spec[1] + Decimal("0.001")


@pytest.fixture(params=[(k, d) for d in EXACT for k in ("scripted", "sim")],
                ids=lambda p: f"{p[1]}-{p[0]}")
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    t = Target(*request.param)
    yield t
    t.close()


def test_identify_and_dialect(target: Target) -> None:
    x = target.x
    with target.open([*target.open_script, ("*IDN?", x.idn), *target.close_script]) as load:
        assert load.dialect.name == target.dialect
        ident = load.identify()
    maker, model, serial, _ = (p.strip() for p in x.idn.split(","))
    assert (ident.maker, ident.model, ident.serial) == (maker, model, serial)
    assert ident.firmware
    target.verify()


def test_constant_power_draw(target: Target) -> None:
    x, model = target.x, SIM_MODELS[target.dialect]
    if x.power is None:  # the model has no constant-power mode: refused before anything is sent
        with target.open([*target.open_script, *target.close_script]) as load:
            with pytest.raises(InstrumentError, match=rf"{target.dialect}.*set_power"):
                load.set_power(Decimal(100))
            with pytest.raises(InstrumentError, match=r"CP not offered"):
                load.set_mode(LoadMode.CP)
        target.verify()
        return
    assert x.mode_cp is not None
    script = [
        *target.open_script,
        *target.setting(x.mode_cp),
        *target.setting(x.power.format("1500.5")),
        *target.setting(x.on),
        (x.state, "1"),
        (x.volts, "230.012"), (x.amps, "6.5236"), (x.watts, "1500.712"),
        (x.watts, "1499.904"),  # measure_power(): the power query alone
        *target.close_script,
    ]
    with target.open(script) as load:
        load.set_mode(LoadMode.CP)
        load.set_power(Decimal("1500.5"))
        load.input_on()
        assert load.input_state() is True
        m = load.measure()
        power_alone = load.measure_power()
    assert all(isinstance(v, Decimal) for v in (m.voltage, m.current, m.power))
    assert abs(m.voltage - 230) <= target.tolerance(Decimal(230), model.voltage_spec)
    watts = Decimal("1500.5")
    assert abs(m.power - watts) <= target.tolerance(watts, model.power_spec)
    assert isinstance(power_alone, Decimal)
    assert abs(power_alone - watts) <= target.tolerance(watts, model.power_spec)
    assert abs(m.current - watts / 230) <= target.tolerance(watts / 230, model.current_spec)
    target.verify()
    if target.load is not None:
        assert target.load.input_on is False  # close() switched it off


def test_constant_current_draw(target: Target) -> None:
    x, model = target.x, SIM_MODELS[target.dialect]
    script = [
        *target.open_script, *target.setting(x.mode_cc), *target.setting(x.current.format("2")),
        *target.setting(x.on), (x.volts, "229.98"), (x.amps, "2.0004"), (x.watts, "460.1"),
        *target.close_script,
    ]
    with target.open(script) as load:
        load.set_mode(LoadMode.CC)
        load.set_current(Decimal(2))
        load.input_on()
        m = load.measure()
    assert abs(m.current - 2) <= target.tolerance(Decimal(2), model.current_spec)
    assert abs(m.power - 460) <= target.tolerance(Decimal(460), model.power_spec)
    target.verify()


def test_power_factor_where_the_model_measures_it(target: Target) -> None:
    x, model = target.x, SIM_MODELS[target.dialect]
    if x.pf is None:
        with (
            target.open([*target.open_script, *target.close_script]) as load,
            pytest.raises(InstrumentError) as info,
        ):
            load.measure_power_factor()
        assert target.dialect in str(info.value) and "measure_pf" in str(info.value)
        target.verify()
        return
    assert model.pf_spec is not None
    script = [*target.open_script, *target.setting(x.mode_cc),
              *target.setting(x.current.format("3")), *target.setting(x.on), (x.pf, "0.998"),
              *target.close_script]
    with target.open(script) as load:
        load.set_mode(LoadMode.CC)
        load.set_current(Decimal(3))
        load.input_on()
        pf = load.measure_power_factor()
    assert isinstance(pf, Decimal)
    assert 1 - model.pf_spec <= pf <= 1  # a resistive load: unity within the PF accuracy
    target.verify()


def test_accumulated_energy_where_the_model_keeps_it(target: Target) -> None:
    x = target.x
    if x.energy is None:
        with (
            target.open([*target.open_script, *target.close_script]) as load,
            pytest.raises(InstrumentError, match=rf"{target.dialect}.*measure_energy"),
        ):
            load.energy_wh()
        target.verify()
        return
    script = [*target.open_script, (x.energy, "12.345"), (x.energy, "12.346"),
              *target.close_script]
    with target.open(script) as load:
        first, second = load.energy_wh(), load.energy_wh()
    assert isinstance(first, Decimal) and first >= 0
    assert second >= first  # an energy register never runs backwards with the load off
    if target.kind == "scripted":
        assert (first, second) == (Decimal("12.345"), Decimal("12.346"))
    target.verify()


def test_instrument_error_raised_at_the_command(target: Target) -> None:
    x = target.x
    command = x.current.format("99999")
    script = [
        *target.open_script,
        (command, None),
        ("*ESR?", "16"),  # execution error: the queue says which
        ("SYST:ERR?", '-222,"Data out of range"'),
        ("SYST:ERR?", NO_ERROR),
        ("SYST:ERR?", NO_ERROR),  # errors(): the queue was drained by the failing command
        *target.close_script,
    ]
    with target.open(script) as load:
        with pytest.raises(InstrumentError) as info:
            load.set_current(Decimal(99999))
        assert load.errors() == []
        resource = load.resource
    message = str(info.value)
    assert repr(command) in message
    assert "-222" in message and "Data out of range" in message
    assert resource in message
    target.verify()


def test_exception_in_with_block_leaves_input_off(target: Target) -> None:
    x = target.x
    script = [*target.open_script, *target.setting(x.current.format("1")),
              *target.setting(x.on), *target.close_script]
    with pytest.raises(RuntimeError, match="scenario failed"):  # noqa: SIM117
        with target.open(script) as load:
            load.set_current(Decimal(1))
            load.input_on()
            if target.load is not None:
                assert target.load.input_on is True
            raise RuntimeError("scenario failed")
    target.verify()
    if target.load is not None:
        assert target.load.input_on is False
        assert target.load.drawn_power() == 0


def test_unsupported_mode_sends_nothing(target: Target) -> None:
    with (
        target.open([*target.open_script, *target.close_script]) as load,
        pytest.raises(InstrumentError, match="CURRENT_RMS"),
    ):
        load.set_mode(LoadMode.CURRENT_RMS)
    target.verify()


def test_reset_and_input_off(target: Target) -> None:
    x = target.x
    script = [
        *target.open_script, *target.setting(x.on), *target.setting("*RST"), (x.state, "0"),
        *target.setting(x.on), *target.setting(x.off), (x.state, "0"), ("SYST:ERR?", NO_ERROR),
        *target.close_script,
    ]
    with target.open(script) as load:
        load.input_on()
        load.reset()
        assert load.input_state() is False
        load.input_on()
        load.input_off()
        assert load.input_state() is False
        assert load.next_error() == (0, "No error")
    target.verify()


def test_close_is_idempotent_and_blocks_further_use(target: Target) -> None:
    load = target.open([*target.open_script, *target.close_script])
    load.close()
    load.close()
    with pytest.raises(InstrumentError, match="closed"):
        load.input_on()
    target.verify()
