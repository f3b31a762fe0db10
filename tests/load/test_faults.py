"""Instrument faults on the emulated load: a clear error, and the load off where reachable."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal

import pytest

from rig.errors import InstrumentError
from rig.load import ElectronicLoad, LoadMode
from rig.sim.emulated_load import EmulatedLoad, Supply
from rig.sim.scpi_server import Fault, ScpiServer

DIALECTS = ["rig-sim", "chroma-63800", "keysight-n3300"]


@pytest.fixture(params=DIALECTS)
def server(request: pytest.FixtureRequest) -> Iterator[ScpiServer]:
    load = EmulatedLoad(lambda: Supply(Decimal(230), True), dialect=request.param, seed=1)
    srv = ScpiServer(load).start()
    yield srv
    srv.stop()


def _drawing(server: ScpiServer) -> ElectronicLoad:
    load = ElectronicLoad.open(server.resource, timeout_ms=300)
    load.set_mode(LoadMode.CC)
    load.set_current(Decimal(2))
    load.input_on()
    assert server.load.input_on
    return load


def test_dropped_connection_names_resource_and_command_and_load_ends_off(
    server: ScpiServer,
) -> None:
    load = _drawing(server)
    query = load.dialect.commands["measure_voltage"]
    server.inject_fault(Fault.DROP)
    with pytest.raises(InstrumentError) as info, load:
        load.measure()
    message = str(info.value)
    assert server.resource in message and repr(query) in message
    # the old socket is dead, but the instrument takes a new one: close() switched it off there
    assert server.load.input_on is False
    assert server.load.drawn_power() == 0


def test_silent_instrument_times_out_and_close_gives_up_in_bounded_time(
    server: ScpiServer,
) -> None:
    load = _drawing(server)
    server.inject_fault(Fault.SILENT)
    start = time.monotonic()
    with pytest.raises(InstrumentError, match=r"no reply to 'MEAS:VOLT\?'") as info:
        load.measure()
    assert server.resource in str(info.value)
    assert load.safe_state() is False  # unreachable: the driver knows and says so
    load.close()
    assert time.monotonic() - start < 5
    server.clear_fault()
    with ElectronicLoad.open(server.resource, timeout_ms=300) as again:  # recovered firmware
        assert again.input_state() is True  # a hung load stays on: the log said so
    assert server.load.input_on is False


def test_error_answer_refuses_the_setting_and_leaves_state_unchanged(server: ScpiServer) -> None:
    with ElectronicLoad.open(server.resource, timeout_ms=300) as load:
        load.set_current(Decimal(1))
        server.inject_fault(Fault.ERROR, code=-310, message="System error")
        command = load.dialect.commands["set_current"].format(value="2")
        with pytest.raises(InstrumentError) as info:
            load.set_current(Decimal(2))
        message = str(info.value)
        assert repr(command) in message and '-310,"System error"' in message
        assert server.resource in message
        assert server.load.current_setpoint == 1  # refused, not executed
        load.set_current(Decimal(2))  # one-shot fault: the next setting goes through
        load.input_on()
    assert server.load.input_on is False
