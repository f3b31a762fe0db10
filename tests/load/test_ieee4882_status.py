"""The IEEE 488.2 status model of the emulated load, as instruments' own clients meet it.

Two clients that share nothing with rig's driver: a raw socket speaking newline-terminated
program messages (what a LAN instrument offers on port 5025), and pyvisa-py on the same
socket. Expected register values are written out from IEEE 488.2-1992 11.2 / 11.5.1 and the
SCPI-1999 error classes, not computed by rig code; the limits come from the emulated models'
table (rig.sim.emulated_load.SIM_MODELS), the instrument's specification.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from decimal import Decimal

import pytest
import pyvisa
from pyvisa.shell import VisaShell

from rig.errors import InstrumentError
from rig.load import ElectronicLoad
from rig.sim.emulated_load import SIM_MODELS, EmulatedLoad, Supply
from rig.sim.scpi_server import ScpiServer

from . import ScriptedInstrument

IDN = "rig,SimLoad-AC,SIM0001,0.1.0"
# IEEE 488.2 11.5.1.1 event bits and 11.2.1 / SCPI-1999 status byte bits, as numbers
OPC, CME, EXE, PON = 1, 32, 16, 128
EAV, MAV, ESB, MSS = 4, 16, 32, 64


@pytest.fixture
def server() -> Iterator[ScpiServer]:
    load = EmulatedLoad(lambda: Supply(Decimal(230), True), noise=False)
    srv = ScpiServer(load).start()
    yield srv
    srv.stop()


class RawClient:
    """Program messages over a plain TCP socket, replies read up to LF."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.lines = self.sock.makefile("rb")

    def send(self, message: str) -> None:
        self.sock.sendall(message.encode("ascii") + b"\n")

    def ask(self, message: str) -> str:
        self.send(message)
        return self.lines.readline().decode("ascii").rstrip("\r\n")

    def close(self) -> None:
        self.lines.close()
        self.sock.close()


@pytest.fixture
def raw(server: ScpiServer) -> Iterator[RawClient]:
    client = RawClient(server.port)
    yield client
    client.close()


def test_power_on_event_then_read_and_clear(raw: RawClient) -> None:
    assert raw.ask("*ESR?") == str(PON)
    assert raw.ask("*ESR?") == "0"  # reading cleared it
    assert raw.ask("*STB?") == "0"
    assert raw.ask("*TST?") == "0"
    assert raw.ask("SYST:VERS?") == "1999.0"


def test_errors_set_their_event_bits_and_the_status_byte_summarises(raw: RawClient) -> None:
    raw.ask("*ESR?")
    assert (raw.ask("*ESE?"), raw.ask("*SRE?")) == ("0", "0")
    raw.send("*ESE 48")  # command and execution errors
    raw.send("*SRE 32")  # request service on the event summary
    assert (raw.ask("*ESE?"), raw.ask("*SRE?")) == ("48", "32")
    raw.send("FOO 1")  # -113: a command error
    raw.send("POW 99999")  # -222: an execution error
    assert raw.ask("SYST:ERR:COUN?") == "2"
    assert raw.ask("*STB?") == str(EAV | ESB | MSS)
    assert raw.ask("*ESR?") == str(CME | EXE)
    assert raw.ask("*STB?") == str(EAV)  # the event summary went with the read; errors remain
    assert raw.ask("SYST:ERR?") == '-113,"Undefined header"'
    assert raw.ask("SYST:ERR?") == '-222,"Data out of range"'
    assert raw.ask("*STB?") == "0"
    assert raw.ask("SYST:ERR:COUN?") == "0"


def test_opc_cls_mav_and_register_range(raw: RawClient) -> None:
    raw.ask("*ESR?")
    raw.send("*OPC")
    assert raw.ask("*ESR?") == str(OPC)
    assert raw.ask("*OPC?") == "1"
    raw.send("FOO")
    raw.send("*CLS")  # clears the queue and the event register, not the enables
    assert raw.ask("*ESR?") == "0"
    assert raw.ask("SYST:ERR:COUN?") == "0"
    assert raw.ask("POW?;*STB?") == f"0;{MAV}"  # a reply waits in the output queue
    raw.send("*ESE 256")
    raw.send("*SRE -1")
    assert raw.ask("SYST:ERR?") == '-222,"Data out of range"'
    assert raw.ask("SYST:ERR?") == '-222,"Data out of range"'
    assert raw.ask("*ESR?") == str(EXE)
    raw.send("*RST")  # a reset keeps the status registers (IEEE 488.2 10.32)
    raw.send("*ESE 4")
    raw.send("*RST")
    assert raw.ask("*ESE?") == "4"


@pytest.mark.parametrize("dialect", ["rig-sim", "chroma-63800", "itech-it8600"])
def test_limits_parameters_and_suffixes_through_pyvisa(dialect: str) -> None:
    model = SIM_MODELS[dialect]
    load = EmulatedLoad(lambda: Supply(Decimal(230), True), dialect=dialect, noise=False)
    rm = pyvisa.ResourceManager("@py")
    with ScpiServer(load) as srv:
        inst = rm.open_resource(srv.resource, read_termination="\n", write_termination="\n",
                                timeout=2000)
        try:
            assert Decimal(inst.query("POW? MAX")) == model.limits.max_power
            assert Decimal(inst.query("POW? MIN")) == 0
            assert Decimal(inst.query("CURR? MAXIMUM")) == model.limits.max_current
            assert Decimal(inst.query("RES? MIN")) == model.limits.min_resistance
            inst.write("*IDN? 1")  # a query that takes no parameter: -108, no reply
            assert inst.query("SYST:ERR?") == '-108,"Parameter not allowed"'
            inst.write("POW 1.5KW")
            assert Decimal(inst.query("POW?")) == Decimal(1500)
            inst.write("POW 250 mW")  # M is milli (IEEE 488.2 7.7.3.4)
            assert Decimal(inst.query("POW?")) == Decimal("0.25")
            inst.write("CURR 2.5A")
            assert Decimal(inst.query("CURR?")) == Decimal("2.5")
            inst.write("RES 1.2KOHM")
            assert Decimal(inst.query("RES?")) == Decimal(1200)
            inst.write("POW 1.5A")  # amperes are no power
            assert inst.query("SYST:ERR?") == '-131,"Invalid suffix"'
            assert Decimal(inst.query("POW?")) == Decimal("0.25")  # unchanged
            assert inst.query("SYST:ERR?") == '0,"No error"'
        finally:
            inst.close()


def test_driver_checks_commands_with_esr_on_the_emulated_load(server: ScpiServer) -> None:
    with ElectronicLoad.open(server.resource, timeout_ms=2000) as load:
        assert load.event_status() == 0  # *CLS at open cleared power-on
        refused = r"'POW 99999' failed: -222,\"Data out of range\""
        with pytest.raises(InstrumentError, match=refused):
            load.set_power(Decimal(99999))
        assert load.status_byte() == 0  # the driver drained what it reported
        other = RawClient(server.port)  # the queue and registers are the instrument's
        try:
            other.send("FOO")
            assert other.ask("*OPC?") == "1"  # FOO has been parsed: a connection is in order
            assert load.status_byte() == EAV
            assert load.event_status() == CME
        finally:
            other.close()
        assert load.errors() == [(-113, "Undefined header")]


def test_driver_names_error_bits_when_the_queue_says_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    script = [
        ("*IDN?", IDN), ("*CLS", None), ("*ESR?", "0"),
        ("INP ON", None), ("*ESR?", str(PON)),  # it restarted: logged, not an error
        ("POW 10", None), ("*ESR?", str(EXE)), ("SYST:ERR?", '0,"No error"'),
        ("INP OFF", None), ("*ESR?", "0"),
    ]
    instrument = ScriptedInstrument(script)
    with caplog.at_level(logging.WARNING, logger="rig.load.driver"), \
            ElectronicLoad.open(instrument.resource, timeout_ms=1000) as load:
        load.input_on()
        with pytest.raises(InstrumentError, match=r"'POW 10' failed: \*ESR\? 16 "
                                                  r"\(execution error\), error queue empty"):
            load.set_power(Decimal(10))
    instrument.verify()
    assert "reports power-on" in caplog.text


def test_pyvisa_shell_needs_a_termination_as_docs_load_md_says(
    server: ScpiServer, capsys: pytest.CaptureFixture[str],
) -> None:
    """pyvisa-py's SOCKET sessions end a read only at a termination character (none by default)
    or at the timeout, whatever the instrument sends; `termchar LF` makes the shell work."""
    shell = VisaShell("@py")
    shell.onecmd(f"open {server.resource}")
    try:
        shell.onecmd("timeout 300")
        shell.onecmd("query *IDN?")
        assert "Timeout expired" in capsys.readouterr().out
        shell.onecmd("termchar LF")
        shell.onecmd("timeout 2000")
        shell.onecmd("query *IDN?")
        shell.onecmd("query POW? MAX")
        out = capsys.readouterr().out
        assert f"Response: {IDN}" in out and "Response: 3000" in out
    finally:
        shell.onecmd("close")
