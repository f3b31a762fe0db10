"""Driver behaviour, run unchanged against a scripted instrument and the emulated load.

Against the script the exact SCPI strings are pinned; against `EmulatedLoad` + `ScpiServer`
the same calls must produce the same observable behaviour through pyvisa-py.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal

import pytest

from rig.errors import InstrumentError
from rig.load import ElectronicLoad, LoadMode
from rig.sim.emulated_load import EmulatedLoad, Supply
from rig.sim.scpi_server import ScpiServer

from . import Exchange, ScriptedInstrument

IDN = "rig,SimLoad-AC,SIM0001,0.1.0"
NO_ERROR = '0,"No error"'
OPEN: list[Exchange] = [("*IDN?", IDN), ("*CLS", None), ("SYST:ERR?", NO_ERROR)]
CLOSE: list[Exchange] = [("INP OFF", None), ("SYST:ERR?", NO_ERROR)]
TIMEOUT_MS = 1000


def setting(command: str) -> list[Exchange]:
    """A setting command and the error query the driver must send after it."""
    return [(command, None), ("SYST:ERR?", NO_ERROR)]


class Target:
    """Where a behaviour test runs: ``scripted`` (exact protocol) or ``sim`` (emulated load)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.supply = Supply(Decimal(230), True)
        self.load: EmulatedLoad | None = None
        self._server: ScpiServer | None = None
        self._scripted: ScriptedInstrument | None = None
        if kind == "sim":
            self.load = EmulatedLoad(lambda: self.supply, seed=7)
            self._server = ScpiServer(self.load).start()

    def expect(self, script: Sequence[Exchange]) -> str:
        """The resource to open; the script is enforced only on the scripted target."""
        if self._server is not None:
            return self._server.resource
        self._scripted = ScriptedInstrument(script)
        return self._scripted.resource

    def verify(self) -> None:
        if self._scripted is not None:
            self._scripted.verify()

    def close(self) -> None:
        if self._server is not None:
            self._server.stop()


@pytest.fixture(params=["scripted", "sim"])
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    t = Target(request.param)
    yield t
    t.close()


def test_identify(target: Target) -> None:
    resource = target.expect([*OPEN, ("*IDN?", IDN), *CLOSE])
    with ElectronicLoad.open(resource, timeout_ms=TIMEOUT_MS) as load:
        assert load.dialect.name == "rig-sim"
        ident = load.identify()
    assert (ident.maker, ident.model, ident.serial) == ("rig", "SimLoad-AC", "SIM0001")
    assert ident.firmware
    target.verify()


def test_constant_power_draw(target: Target) -> None:
    resource = target.expect([
        *OPEN,
        *setting("FUNC POW"),
        *setting("POW 1500.5"),
        *setting("INP ON"),
        ("INP?", "1"),
        ("MEAS:VOLT?", "230.012"),
        ("MEAS:CURR?", "6.5236"),
        ("MEAS:POW?", "1500.712"),
        *CLOSE,
    ])
    with ElectronicLoad.open(resource, timeout_ms=TIMEOUT_MS) as load:
        load.set_mode(LoadMode.CP)
        load.set_power(Decimal("1500.5"))
        load.input_on()
        assert load.input_state() is True
        m = load.measure()
    assert all(isinstance(x, Decimal) for x in (m.voltage, m.current, m.power))
    assert abs(m.voltage - 230) < Decimal("0.2")
    assert abs(m.power - Decimal("1500.5")) < Decimal("2")
    assert abs(m.current - Decimal("1500.5") / 230) < Decimal("0.01")
    target.verify()
    if target.load is not None:
        assert target.load.input_on is False  # close() switched it off


def test_constant_current_draw(target: Target) -> None:
    resource = target.expect([
        *OPEN, *setting("FUNC CURR"), *setting("CURR 2"), *setting("INP ON"),
        ("MEAS:VOLT?", "229.98"), ("MEAS:CURR?", "2.0004"), ("MEAS:POW?", "460.1"),
        *CLOSE,
    ])
    with ElectronicLoad.open(resource, timeout_ms=TIMEOUT_MS) as load:
        load.set_mode(LoadMode.CC)
        load.set_current(Decimal(2))
        load.input_on()
        m = load.measure()
    assert abs(m.current - 2) < Decimal("0.01")
    assert abs(m.power - 460) < Decimal("1")
    target.verify()


def test_instrument_error_raised_at_the_command(target: Target) -> None:
    resource = target.expect([
        *OPEN,
        ("POW 99999", None),
        ("SYST:ERR?", '-222,"Data out of range"'),
        ("SYST:ERR?", NO_ERROR),
        ("SYST:ERR?", NO_ERROR),  # errors(): the queue was drained by the failing command
        *CLOSE,
    ])
    with ElectronicLoad.open(resource, timeout_ms=TIMEOUT_MS) as load:
        with pytest.raises(InstrumentError) as info:
            load.set_power(Decimal(99999))
        assert load.errors() == []
    message = str(info.value)
    assert "'POW 99999'" in message
    assert "-222" in message and "Data out of range" in message
    assert resource in message
    target.verify()


def test_exception_in_with_block_leaves_input_off(target: Target) -> None:
    resource = target.expect([*OPEN, *setting("POW 100"), *setting("INP ON"), *CLOSE])
    with pytest.raises(RuntimeError, match="scenario failed"):  # noqa: SIM117
        with ElectronicLoad.open(resource, timeout_ms=TIMEOUT_MS) as load:
            load.set_power(Decimal(100))
            load.input_on()
            if target.load is not None:
                assert target.load.input_on is True
            raise RuntimeError("scenario failed")
    target.verify()
    if target.load is not None:
        assert target.load.input_on is False
        assert target.load.drawn_power() == 0


def test_unsupported_mode_sends_nothing(target: Target) -> None:
    resource = target.expect([*OPEN, *CLOSE])
    with (
        ElectronicLoad.open(resource, timeout_ms=TIMEOUT_MS) as load,
        pytest.raises(InstrumentError, match="CURRENT_RMS"),
    ):
        load.set_mode(LoadMode.CURRENT_RMS)
    target.verify()


def test_reset_and_input_off(target: Target) -> None:
    resource = target.expect([
        *OPEN, *setting("INP ON"), *setting("*RST"), ("INP?", "0"),
        *setting("INP ON"), *setting("INP OFF"), ("INP?", "0"), *CLOSE,
    ])
    with ElectronicLoad.open(resource, timeout_ms=TIMEOUT_MS) as load:
        load.input_on()
        load.reset()
        assert load.input_state() is False
        load.input_on()
        load.input_off()
        assert load.input_state() is False
    target.verify()


def test_close_is_idempotent_and_blocks_further_use(target: Target) -> None:
    resource = target.expect([*OPEN, *CLOSE])
    load = ElectronicLoad.open(resource, timeout_ms=TIMEOUT_MS)
    load.close()
    load.close()
    with pytest.raises(InstrumentError, match="closed"):
        load.input_on()
    target.verify()
