"""The emulated IEC 62056-21 meter as a standard mode C client meets it on its pty.

A Linux pty carries no parity bit: a client that asks for 7E1 is refused (glibc's tcsetattr
reads the settings back and reports EINVAL) or silently left at 8N1, so a standard client sends
its 7-bit characters as they are and expects them back that way. The client here is written
in the test from the standard (IEC 62056-21:2002 6.3 messages, 6.2 BCC, 6.3.6 repeat request),
with plain pyserial and no rig code on its side of the pty.
"""

from __future__ import annotations

import termios
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import serial

from rig.errors import ProtocolError
from rig.meter.iec62056 import Iec62056Client
from rig.profile import load_profile
from rig.sim.emulated_bench import lab_master_key
from rig.sim.meter_firmware import EmulatedMeter
from rig.sim.pty_port import PtySerialEndpoint
from rig.sim.world import BenchWorld

SOH, STX, ETX, ACK, NAK = 0x01, 0x02, 0x03, 0x06, 0x15
ADDRESS = "000010020001"
PASSWORD = "12345678"
BAUD_CHAR = {300: "0", 600: "1", 1200: "2", 2400: "3", 4800: "4", 9600: "5", 19200: "6"}


class HandClock:
    epoch = datetime(2026, 3, 4, 8, 0, tzinfo=UTC)

    def elapsed(self) -> float:
        return 0.0

    def at(self, seconds: float) -> datetime:
        return self.epoch + timedelta(seconds=seconds)

    def now(self) -> datetime:
        return self.epoch


@pytest.fixture
def meter() -> Iterator[tuple[str, EmulatedMeter]]:
    """The IEC profile's emulated meter on its own pty, 3.5 kWh of credit, relay closed."""
    profile = load_profile("iec62056-1p-energy")
    world = BenchWorld(profile, HandClock(), noise=False)  # type: ignore[arg-type]
    emulated = EmulatedMeter(world, lab_master_key())
    emulated.engine.apply_purchase(1, 3_500, world.clock.now())
    endpoint = PtySerialEndpoint(emulated.on_serial_bytes, name="iec-std")
    path = endpoint.start()
    try:
        yield path, emulated
    finally:
        endpoint.stop()


# -- an independent mode C client: bytes as the standard writes them ------------------------
def block_check(body: bytes) -> int:
    """6.2: XOR of the characters after SOH/STX up to and including ETX."""
    value = 0
    for b in body:
        value ^= b
    return value


class StandardClient:
    """Mode C master on a port that a pty left at 8N1: plain 7-bit characters both ways."""

    def __init__(self, path: str) -> None:
        try:  # 7E1 as the standard asks; the pty keeps 8 bits without parity
            self.port = serial.Serial(path, 300, bytesize=7, parity="E", timeout=0.05)
        except termios.error:  # the pty is at 300 Bd already: only the parity changed, EINVAL
            self.port = serial.Serial(path, 300, bytesize=8, parity="N", timeout=0.05)
        self.received: bytearray = bytearray()

    def close(self) -> None:
        self.port.close()

    def send(self, data: bytes) -> None:
        assert all(b < 0x80 for b in data)
        self.port.write(data)
        self.port.flush()

    def _read_until(self, done: object, timeout: float = 3.0) -> bytes:
        buf = bytearray()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            buf += self.port.read(256)
            if done(buf):  # type: ignore[operator]
                self.received += buf
                return bytes(buf)
        raise AssertionError(f"no complete message within {timeout} s, got {bytes(buf)!r}")

    def line(self) -> bytes:
        return self._read_until(lambda b: b.endswith(b"\r\n"))

    def single(self) -> bytes:
        return self._read_until(lambda b: len(b) >= 1 and b[0] in (ACK, NAK))

    def block(self) -> bytes:
        """STX/SOH ... ETX BCC, its BCC checked."""
        raw = self._read_until(lambda b: ETX in b and b.index(ETX) + 1 < len(b))
        assert raw[0] in (SOH, STX), raw
        end = raw.index(ETX)
        assert raw[end + 1] == block_check(raw[1 : end + 1]), f"BCC wrong in {raw!r}"
        return raw[: end + 2]

    def sign_on(self, mode: str) -> bytes:
        """6.3.1 request, 6.3.2 identification, 6.3.3 option select at the offered rate."""
        self.rate(300)
        self.send(b"/?" + ADDRESS.encode() + b"!\r\n")
        ident = self.line()
        assert ident.startswith(b"/") and ident.endswith(b"\r\n")
        rate = {c: r for r, c in BAUD_CHAR.items()}[chr(ident[4])]
        self.send(bytes([ACK]) + f"0{BAUD_CHAR[rate]}{mode}".encode() + b"\r\n")
        self.rate(rate)
        return ident

    def rate(self, baudrate: int) -> None:
        """Switch only if it changes: re-asserting 7E1 alone on a pty is refused (EINVAL)."""
        if self.port.baudrate != baudrate:
            self.port.baudrate = baudrate

    def command(self, cmd: str, data: str) -> bytes:
        body = cmd.encode() + bytes([STX]) + data.encode() + bytes([ETX])
        return bytes([SOH]) + body + bytes([block_check(body)])


def test_pty_leaves_a_7e1_client_at_8n1_or_refuses_it(meter: tuple[str, EmulatedMeter]) -> None:
    """What docs/protocols.md says a pty does with parity."""
    path, _ = meter
    port = serial.Serial(path, 300, bytesize=7, parity="E")  # the rate changed too: accepted
    try:
        cflag = termios.tcgetattr(port.fd)[2]
        assert cflag & termios.CSIZE == termios.CS8 and not cflag & termios.PARENB
    finally:
        port.close()
    with pytest.raises(termios.error, match="Invalid argument"):  # only the parity changes
        serial.Serial(path, 300, bytesize=7, parity="E")


def test_standard_client_readout_in_plain_7_bit_characters(
    meter: tuple[str, EmulatedMeter],
) -> None:
    path, _ = meter
    client = StandardClient(path)
    try:
        ident = client.sign_on("0")
        assert ident == b"/RIG5PP1E\r\n"
        readout = client.block()
    finally:
        client.close()
    assert all(b < 0x80 for b in client.received), "the meter answered with bit 7 set"
    text = readout[1:-2].decode("ascii")
    assert f"0.0.0({ADDRESS})" in text
    assert "C.50.1(000003.500*kWh)" in text  # remaining credit, 6.6 data set layout
    assert text.endswith("!\r\n")


def test_standard_client_programming_and_repeat_requests(
    meter: tuple[str, EmulatedMeter],
) -> None:
    """6.3.6: a NAK asks for the meter's last message again — data, ACK, or its own NAK."""
    path, emulated = meter
    client = StandardClient(path)
    try:
        client.sign_on("1")
        p0 = client.block()
        assert p0 == client.command("P0", f"({ADDRESS})")
        client.send(client.command("P1", f"({PASSWORD})"))
        assert client.single() == bytes([ACK])

        client.send(client.command("R1", "C.50.1()"))
        data = client.block()
        assert data[1:-2] == b"C.50.1(000003.500*kWh)"
        client.send(bytes([NAK]))  # the data message again
        assert client.block() == data

        garbled = bytearray(client.command("R1", "1.8.0()"))
        garbled[-1] ^= 0x01  # wrong BCC: the meter cannot use it and asks for it again
        client.send(bytes(garbled))
        assert client.single() == bytes([NAK])
        client.send(bytes([NAK]))  # the meter's NAK got lost: it repeats its NAK...
        assert client.single() == bytes([NAK])  # ...not the C.50.1 data of the earlier R1
        client.send(client.command("R1", "1.8.0()"))
        assert client.block()[1:-2].startswith(b"1.8.0(")

        client.send(client.command("W1", "C.53.1(0)"))  # relay trip
        assert client.single() == bytes([ACK])
        client.send(bytes([NAK]))
        assert client.single() == bytes([ACK])
        assert not emulated.engine.relay_closed
        client.send(bytes([SOH]) + b"B0" + bytes([ETX]) + bytes([block_check(b"B0\x03")]))
    finally:
        client.close()
    assert all(b < 0x80 for b in client.received)


def test_both_forms_are_served_session_by_session(meter: tuple[str, EmulatedMeter]) -> None:
    """A standard client, then rig's client with the parity in bit 7, then a standard one."""
    path, _ = meter
    first = StandardClient(path)
    try:
        assert first.sign_on("0") == b"/RIG5PP1E\r\n"
        first.block()
    finally:
        first.close()
    with Iec62056Client.open(path, parity="N", address=ADDRESS, timeout=1.0) as rig_client:
        assert rig_client.readout()["C.50.1"].value == "000003.500"
    wire = b"".join(e.data for e in rig_client.transcript.entries if e.direction == "rx")
    assert wire[0] == 0xAF  # '/' with its parity bit: answered in the form it was addressed in
    second = StandardClient(path)
    try:
        assert second.sign_on("0") == b"/RIG5PP1E\r\n"
        second.block()
    finally:
        second.close()
    assert all(b < 0x80 for b in first.received + second.received)


def test_rig_client_asked_for_7e1_on_a_pty_talks_like_a_standard_client(
    meter: tuple[str, EmulatedMeter],
) -> None:
    """Opened 7E1 (the default), once on a fresh pty and once more when the pty already runs at
    300 Bd and refuses the parity alone (EINVAL): both times 8N1 with bare 7-bit characters."""
    path, _ = meter
    for _ in range(2):
        with Iec62056Client.open(path, address=ADDRESS, timeout=1.0) as c:
            assert not c.software_parity
            assert Decimal(c.readout()["C.50.1"].value) == Decimal("3.5")
        tx = [e.data for e in c.transcript.entries if e.direction == "tx"]
        assert tx[0] == b"/?000010020001!\r\n"
        assert all(b < 0x80 for e in c.transcript.entries for b in e.data)


def test_7e1_on_a_missing_port_names_it_and_says_what_to_check() -> None:
    with pytest.raises(ProtocolError, match=r"cannot open IEC 62056-21 port '/dev/ttyUSB97' "
                                            r"at 7E1.*no such device.*USB adapter"):
        Iec62056Client.open("/dev/ttyUSB97")
