"""The emulated load's SCPI front end: parser, error queue, connections."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from decimal import Decimal

import pytest

from rig.load.dialects import LoadMode
from rig.sim.emulated_load import EmulatedLoad, Supply
from rig.sim.scpi_server import QUERY_CACHE_SIZE, ScpiServer


@pytest.fixture
def server() -> Iterator[ScpiServer]:
    load = EmulatedLoad(lambda: Supply(Decimal(230), True), noise=False)
    srv = ScpiServer(load).start()
    yield srv
    srv.stop()


@pytest.mark.parametrize(
    "command",
    ["POW 12.5", "pow 12.5", ":SOUR:POW 12.5", "SOURce:POWer:LEVel:IMMediate 12.5",
     "power:level 12.5", "Pow:Lev:Imm:Ampl 12.5"],
)
def test_short_and_long_forms(server: ScpiServer, command: str) -> None:
    assert server.execute(command) is None
    assert server.load.power_setpoint == Decimal("12.5")
    assert server.execute("SYST:ERR?") == '0,"No error"'


@pytest.mark.parametrize(
    ("command", "on"),
    [("INP ON", True), ("INP 1", True), ("input:state on", True), ("INP OFF", False),
     ("INPut:STATe 0", False)],
)
def test_input_forms(server: ScpiServer, command: str, on: bool) -> None:
    server.execute(command)
    assert server.load.input_on is on
    assert server.execute("INP?") == ("1" if on else "0")


def test_modes_and_compound_messages(server: ScpiServer) -> None:
    assert server.execute("FUNC CURR;FUNC?;MODE RES;:SOUR:FUNC?;FUNC POW;MODE?") == "CURR;RES;POW"
    assert server.load.mode is LoadMode.CP
    reply = server.execute("CURR 2;FUNC CURR;INP ON;MEAS:VOLT?;MEAS:SCAL:CURR?;MEASURE:POWER?")
    assert reply == "230.000;2.0000;460.000"


@pytest.mark.parametrize(
    ("command", "error"),
    [("FOO 1", '-113,"Undefined header"'), ("POWE 3", '-113,"Undefined header"'),
     ("POW 99999", '-222,"Data out of range"'), ("CURR 21", '-222,"Data out of range"'),
     ("POW", '-109,"Missing parameter"'), ("POW abc", '-104,"Data type error"'),
     ("INP MAYBE", '-224,"Illegal parameter value"'),
     ("FUNC VOLT", '-224,"Illegal parameter value"'),
     ("*RST 1", '-108,"Parameter not allowed"')],
)
def test_error_queue(server: ScpiServer, command: str, error: str) -> None:
    assert server.execute(command) is None
    assert server.execute("SYST:ERR?") == error
    assert server.execute("SYSTem:ERRor:NEXT?") == '0,"No error"'


def test_repeated_queries_answer_live_state_in_any_spelling(server: ScpiServer) -> None:
    """Queries are dispatched from a cache once seen: they must still read the state *now*,
    undefined ones must keep failing, and odd spellings must not grow the server without bound."""
    assert server.execute("INP?") == "0"
    server.execute("INP ON")
    assert server.execute("INP?") == "1"
    for _ in range(2):
        assert server.execute("MEAS:POWX?") is None
        assert server.execute("SYST:ERR?") == '-113,"Undefined header"'
    spellings = {"".join(c.upper() if bit else c.lower() for c, bit in
                         zip("meas:volt?", f"{n:010b}", strict=True)) for n in range(1024)}
    assert {server.execute(spelling) for spelling in spellings} == {"230.000"}
    assert len(server._queries) <= QUERY_CACHE_SIZE
    assert server.execute("SYST:ERR?") == '0,"No error"'


def test_queue_is_fifo_bounded_and_cleared_by_cls(server: ScpiServer) -> None:
    server.execute("FOO;POW")
    assert server.execute("SYST:ERR?;SYST:ERR?;SYST:ERR?") == (
        '-113,"Undefined header";-109,"Missing parameter";0,"No error"'
    )
    for _ in range(15):
        server.execute("FOO")
    replies = [server.execute("SYST:ERR?") for _ in range(11)]
    assert replies[8] == '-113,"Undefined header"' and replies[9] == '-350,"Queue overflow"'
    assert replies[10] == '0,"No error"'
    server.execute("FOO;*CLS")
    assert server.execute("SYST:ERR?") == '0,"No error"'


def test_min_max_parameters(server: ScpiServer) -> None:
    server.execute("POW MAX;CURR MAX")
    assert server.execute("POW?;CURR?") == "3000;20"


def _connect(server: ScpiServer) -> socket.socket:
    sock = socket.create_connection((server.host, server.port), timeout=2)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def test_several_clients_share_one_instrument(server: ScpiServer) -> None:
    a, b = _connect(server), _connect(server)
    with a, b:
        a.sendall(b"POW 42;POW?\r\n")  # the query's reply proves POW 42 was executed
        assert a.makefile("rb").readline() == b"42\n"
        b.sendall(b"*IDN?\nPOW?\n")
        reader = b.makefile("rb")
        assert reader.readline() == b"rig,SimLoad-AC,SIM0001,0.1.0\n"
        assert reader.readline() == b"42\n"


def test_stop_closes_client_connections(server: ScpiServer) -> None:
    sock = _connect(server)
    with sock:
        sock.sendall(b"*IDN?\n")
        assert sock.makefile("rb").readline().startswith(b"rig,")
        server.stop()
        assert sock.recv(100) == b""  # server side closed
    with pytest.raises(OSError):
        _connect(server)
    assert server.resource == f"TCPIP0::127.0.0.1::{server.port}::SOCKET"
