"""Iec62056Client against Iec62056Responder over a real pseudo-terminal.

Linux ptys here reject PARENB, so both sides open the pty 8N1 and put the even-parity bit in
bit 7 themselves: the bytes crossing the pty are the exact 7E1 characters of a real probe.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from rig.errors import ProtocolError
from rig.meter.dlt645.client import MeterTimeout
from rig.meter.iec62056 import DataSet, Iec62056Client, Iec62056Responder, MeterErrorReply
from rig.meter.transcript import Transcript
from rig.sim.pty_port import PtySerialEndpoint

ADDR = "10020001"
PASSWORD = "12345678"


class DictBank:
    def __init__(self) -> None:
        self.values = {"0.0.0": DataSet("0.0.0", ADDR),
                       "1.8.0": DataSet("1.8.0", "000012.345", "kWh"),
                       "C.50.1": DataSet("C.50.1", "000007.655", "kWh"),
                       "C.53.1": DataSet("C.53.1", "1")}

    def readout(self) -> list[DataSet]:
        return list(self.values.values())

    def read(self, address: str) -> DataSet:
        return self.values[address]

    def write(self, address: str, value: str) -> None:
        if address != "C.53.1":
            raise PermissionError("read only")
        if value not in ("0", "1"):
            raise ValueError("0 or 1")
        self.values[address] = DataSet(address, value)


class Line:
    """The pty, with a switch that corrupts the next n replies (one byte flipped)."""

    def __init__(self, responder: Iec62056Responder) -> None:
        self.responder = responder
        self.corrupt_next = 0
        self.baudrates: list[int] = []

    def handle(self, data: bytes) -> bytes:
        out = self.responder.serve_stream(data)
        if out and self.corrupt_next:
            self.corrupt_next -= 1
            out = out[:-1] + bytes([out[-1] ^ 0x01])  # breaks parity of the last byte
        return out


@pytest.fixture
def line() -> Iterator[tuple[str, Line, Transcript]]:
    meter_log = Transcript()
    line: Line
    responder = Iec62056Responder(
        ADDR, DictBank(), manufacturer="RIG", ident="PP1E", password=PASSWORD,
        max_baudrate=9600, transcript=meter_log,
        on_baudrate=lambda rate: line.baudrates.append(rate))
    line = Line(responder)
    endpoint = PtySerialEndpoint(line.handle, name="iec")
    path = endpoint.start()
    try:
        yield path, line, meter_log
    finally:
        endpoint.stop()


def _client(path: str, **kw: object) -> Iec62056Client:
    kw.setdefault("address", ADDR)
    kw.setdefault("timeout", 0.5)
    return Iec62056Client.open(path, baudrate=300, parity="N", **kw)  # type: ignore[arg-type]


def test_readout_with_baud_switch(line: tuple[str, Line, Transcript]) -> None:
    path, ln, meter_log = line
    with _client(path) as c:
        data = c.readout()
        assert c.identification is not None and c.identification.baudrate == 9600
        assert c._port.baudrate == 300  # back at the sign-on rate  # type: ignore[attr-defined]
    assert data["1.8.0"] == DataSet("1.8.0", "000012.345", "kWh")
    assert data["0.0.0"].value == ADDR
    assert ln.baudrates == [300, 9600]
    first = c.transcript.entries[0]
    assert first.direction == "tx" and first.data == b"/?10020001!\r\n"
    # what the meter received on the pty: the same characters with the even-parity bit
    assert meter_log.entries[0].data.startswith(bytes.fromhex("AF 3F B1 30 30 B2"))


def test_programming_mode_password_read_write_break(line: tuple[str, Line, Transcript]) -> None:
    path, ln, _ = line
    with _client(path, password=PASSWORD) as c:
        assert c.open_programming() == f"({ADDR})"
        assert c.read("C.50.1") == DataSet("C.50.1", "000007.655", "kWh")
        c.write("C.53.1", "0")
        assert c.read("C.53.1").value == "0"
        with pytest.raises(MeterErrorReply, match=r"W1 1\.8\.0 to meter 10020001.*READ ONLY"):
            c.write("1.8.0", "0")
        with pytest.raises(MeterErrorReply, match="ADDRESS ERROR"):
            c.read("9.9.9")
        c.break_()
        assert not c.in_programming
    deadline = time.monotonic() + 2  # B0 has no answer: wait for the meter to act on it
    while ln.responder.state != "idle" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ln.responder.state == "idle"
    text = c.transcript.to_text()
    assert PASSWORD not in text and "password redacted" in text
    assert "01 42 30 03 71" in text  # B0 went out


def test_wrong_password_and_commands_before_it(line: tuple[str, Line, Transcript]) -> None:
    path, ln, _ = line
    with _client(path, password="00000000") as c, pytest.raises(
        MeterErrorReply, match="P1 password to meter 10020001: meter answered error "
                               "'PASSWORD ERROR'"):
        c.open_programming()
    with _client(path) as c:
        c.open_programming()
        with pytest.raises(MeterErrorReply, match="ACCESS DENIED"):
            c.read("1.8.0")
    assert "R1 before the P1 password" in ln.responder.faults


def test_corrupted_replies_are_retried(line: tuple[str, Line, Transcript]) -> None:
    path, ln, _ = line
    with _client(path, password=PASSWORD) as c:
        ln.corrupt_next = 1  # the identification is damaged: the readout starts again
        assert c.readout()["1.8.0"].value == "000012.345"
        c.open_programming()
        ln.corrupt_next = 1  # the R1 answer is damaged: NAK, the meter repeats it
        assert c.read("1.8.0").value == "000012.345"
        assert any("NAK after" in e.note for e in c.transcript.entries)


def test_silence_and_persistent_faults_name_meter_and_step(
    line: tuple[str, Line, Transcript],
) -> None:
    path, ln, _ = line
    with _client(path, address="99999999", retries=1, timeout=0.2) as c, pytest.raises(
            MeterTimeout, match=r"readout of meter 99999999: sign-on .* no reply .*attempt 2 of 2"):
        c.readout()
    with _client(path, retries=1) as c:
        ln.corrupt_next = 10
        with pytest.raises(ProtocolError, match="readout of meter 10020001: parity error"):
            c.readout()
