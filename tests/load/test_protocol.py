"""Exact SCPI conversations of the driver (recorded-protocol tests) and its failure paths."""

from __future__ import annotations

import socket
import threading
import time
from decimal import Decimal

import pytest

from rig.errors import InstrumentError
from rig.load import ElectronicLoad
from rig.load.driver import format_number, parse_error
from rig.sim.emulated_load import EmulatedLoad, Supply
from rig.sim.scpi_server import ScpiServer

from . import ScriptedInstrument

IDN = "rig,SimLoad-AC,SIM0001,0.1.0"
NO_ERROR = '0,"No error"'


def test_exact_conversation_of_a_typical_session() -> None:
    script = [
        ("*IDN?", IDN),
        ("*CLS", None),
        ("*ESR?", "0"),
        ("POW 1500.5", None),
        ("*ESR?", "0"),
        ("INP ON", None),
        ("*ESR?", "0"),
        ("MEAS:VOLT?", "+2.30010E+02"),
        ("MEAS:CURR?", "6.5231"),
        ("MEAS:POW?", "1500.44"),
        ("INP OFF", None),
        ("*ESR?", "+0"),
    ]
    instrument = ScriptedInstrument(script)
    with ElectronicLoad.open(instrument.resource, timeout_ms=1000) as load:
        load.set_power(Decimal("1500.5"))
        load.input_on()
        m = load.measure()
    instrument.verify()
    assert instrument.received == [command for command, _ in script]
    assert m.voltage == Decimal("230.010")
    assert m.current == Decimal("6.5231")
    assert m.power == Decimal("1500.44")


def test_explicit_dialect_still_identifies() -> None:
    instrument = ScriptedInstrument([
        ("*IDN?", "ACME,L1,42,1.0"), ("*CLS", None), ("*ESR?", "0"),
        ("INP OFF", None), ("*ESR?", "0"),
    ])
    with ElectronicLoad.open(instrument.resource, dialect="generic-scpi", timeout_ms=1000) as load:
        assert load.dialect.name == "generic-scpi"
        assert load.idn == "ACME,L1,42,1.0"
    instrument.verify()


def test_unknown_idn_lists_known_dialects() -> None:
    instrument = ScriptedInstrument([("*IDN?", "ACME,L1,42,1.0")])
    with pytest.raises(InstrumentError) as info:
        ElectronicLoad.open(instrument.resource, timeout_ms=1000)
    instrument.verify()
    message = str(info.value)
    assert "ACME,L1,42,1.0" in message
    assert "rig-sim" in message and "generic-scpi" in message


def test_unknown_dialect_name() -> None:
    known = "rig-sim, chroma-63800, itech-it8600, keysight-n3300, generic-scpi"
    with pytest.raises(InstrumentError, match=f"known dialects: {known}"):
        ElectronicLoad.open("TCPIP0::127.0.0.1::1::SOCKET", dialect="nope")


def test_all_queued_errors_are_reported() -> None:
    instrument = ScriptedInstrument([
        ("*IDN?", IDN), ("*CLS", None), ("*ESR?", "0"),
        ("CURR 50", None),
        ("*ESR?", "16"),
        ("SYST:ERR?", '-222,"Data out of range"'),
        ("SYST:ERR?", '-221,"Settings conflict"'),
        ("SYST:ERR?", NO_ERROR),
        ("INP OFF", None), ("*ESR?", "0"),
    ])
    with (
        ElectronicLoad.open(instrument.resource, timeout_ms=1000) as load,
        pytest.raises(InstrumentError, match=r"'CURR 50'.*-222.*-221"),
    ):
        load.set_current(Decimal(50))
    instrument.verify()


def _silent_instrument() -> tuple[socket.socket, threading.Thread, list[bytes]]:
    """Answers the open handshake, then swallows every command without replying."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    seen: list[bytes] = []

    def run() -> None:
        conn, _ = listener.accept()
        with conn:
            replies = [IDN.encode() + b"\n", None, b"0\n"]
            for line in conn.makefile("rb"):
                seen.append(line.strip())
                reply = replies.pop(0) if replies else None
                if reply:
                    conn.sendall(reply)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return listener, thread, seen


def test_timeout_names_command_and_close_still_tries_input_off() -> None:
    listener, thread, seen = _silent_instrument()
    resource = f"TCPIP0::127.0.0.1::{listener.getsockname()[1]}::SOCKET"
    start = time.monotonic()
    with pytest.raises(InstrumentError, match=r"no reply to '\*ESR\?'"):  # noqa: SIM117
        with ElectronicLoad.open(resource, timeout_ms=200) as load:
            load.input_on()
    thread.join(timeout=5)
    listener.close()
    assert b"INP OFF" in seen  # safe state attempted despite the dead link
    assert time.monotonic() - start < 5


def test_original_exception_is_not_masked_by_a_failing_close() -> None:
    listener, thread, seen = _silent_instrument()
    resource = f"TCPIP0::127.0.0.1::{listener.getsockname()[1]}::SOCKET"
    with pytest.raises(KeyError):  # noqa: SIM117
        with ElectronicLoad.open(resource, timeout_ms=200):
            raise KeyError("scenario")
    thread.join(timeout=5)
    listener.close()
    assert seen[-2:] == [b"INP OFF", b"*ESR?"]


def test_open_refused_connection_is_an_instrument_error() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with pytest.raises(InstrumentError, match=str(port)):
        ElectronicLoad.open(f"TCPIP0::127.0.0.1::{port}::SOCKET", timeout_ms=300)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("1500.5"), "1500.5"),
        (Decimal("1E+3"), "1000"),
        (Decimal("0.000001"), "0.000001"),
        (Decimal("2.50"), "2.50"),
        (7, "7"),
        ("12.25", "12.25"),
    ],
)
def test_format_number(value: Decimal | int | str, text: str) -> None:
    assert format_number(value) == text


def test_format_number_refuses_float_and_nan() -> None:
    with pytest.raises(TypeError):
        format_number(0.1)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        format_number(Decimal("NaN"))


@pytest.mark.parametrize(
    ("reply", "parsed"),
    [
        ('-222,"Data out of range"', (-222, "Data out of range")),
        ('+0,"No error"', (0, "No error")),
        ("0,No error", (0, "No error")),
        ('-100,"Command error; ""x"""', (-100, 'Command error; "x"')),
    ],
)
def test_parse_error(reply: str, parsed: tuple[int, str]) -> None:
    assert parse_error(reply) == parsed


def test_closing_one_load_leaves_another_loads_session_alone() -> None:
    """pyvisa shares one resource manager per process: closing a load must not close it, or a
    second load on the bench loses its session and can no longer be switched off."""
    loads = [EmulatedLoad(lambda: Supply(Decimal(230), True), seed=i) for i in (1, 2)]
    servers = [ScpiServer(load).start() for load in loads]
    refused = socket.socket()
    refused.bind(("127.0.0.1", 0))
    dead = f"TCPIP0::127.0.0.1::{refused.getsockname()[1]}::SOCKET"
    refused.close()
    try:
        first = ElectronicLoad.open(servers[0].resource, timeout_ms=1000)
        with ElectronicLoad.open(servers[1].resource, timeout_ms=1000) as second:
            second.input_on()
            first.input_on()
            first.close()
            with pytest.raises(InstrumentError):  # a failed open must not close it either
                ElectronicLoad.open(dead, timeout_ms=300)
            assert second.input_state() is True
        assert [load.input_on for load in loads] == [False, False]
    finally:
        for server in servers:
            server.stop()
