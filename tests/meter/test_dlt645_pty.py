"""Client and Dlt645Responder over a real pseudo-terminal, as the emulated bench runs them."""

from __future__ import annotations

import datetime as dt
import os
import select
import threading
from collections.abc import Iterator
from decimal import Decimal

import pytest

from rig.errors import ProtocolError
from rig.meter.dlt645 import data_ids
from rig.meter.dlt645.client import Dlt645Client, MeterAbnormalReply, RelayCommand
from rig.meter.dlt645.frame import Frame
from rig.meter.dlt645.server import Dlt645Responder

ADDR = "202405170001"
PASSWORD = bytes.fromhex("02 12 34 56")
# Linux ptys in some sandboxes reject PARENB (tcsetattr EINVAL), so the emulated line runs 8N1;
# framing is identical, parity is a UART concern the pty does not model anyway.
PTY_PARITY = "N"
LONG_DI = 0x04800001  # not in the registry: exercised through read_raw only


class DictBank:
    """Minimal RegisterBank: plain bytes per DI, one password."""

    def __init__(self) -> None:
        self.values: dict[int, bytes] = {
            data_ids.REMAINING_AMOUNT: data_ids.encode_value(data_ids.REMAINING_AMOUNT, "87.65"),
            data_ids.STATUS_WORD_3: data_ids.encode_value(data_ids.STATUS_WORD_3, 0x0200),
            data_ids.ALARM_AMOUNT_1: data_ids.encode_value(data_ids.ALARM_AMOUNT_1, 20),
            LONG_DI: bytes(range(256)) + bytes(100),
        }
        self.relay_commands: list[int] = []
        self.deadlines: list[dt.datetime] = []
        self.times: list[dt.datetime] = []

    def read(self, di: int) -> bytes:
        return self.values[di]

    def write(self, di: int, data: bytes, password: bytes, operator: bytes) -> None:
        if password != PASSWORD:
            raise PermissionError("wrong password")
        data_ids.decode_value(di, data)  # validates format; KeyError if unknown
        self.values[di] = data

    def relay_control(self, command: int, password: bytes, operator: bytes,
                      valid_until: dt.datetime) -> None:
        if password != PASSWORD:
            raise PermissionError("wrong password")
        self.relay_commands.append(command)
        self.deadlines.append(valid_until)

    def set_time(self, moment: dt.datetime) -> None:
        self.times.append(moment)


@pytest.fixture
def meter() -> Iterator[tuple[str, DictBank, Dlt645Responder]]:
    master, slave = os.openpty()
    bank = DictBank()
    responder = Dlt645Responder(ADDR, bank)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            ready, _, _ = select.select([master], [], [], 0.02)
            if not ready:
                continue
            try:
                chunk = os.read(master, 512)
            except OSError:
                return
            out = responder.serve_stream(chunk)
            if out:
                os.write(master, out)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield os.ttyname(slave), bank, responder
    finally:
        stop.set()
        thread.join(2)
        os.close(master)
        os.close(slave)


def test_client_and_responder_over_pty(meter: tuple[str, DictBank, Dlt645Responder]) -> None:
    path, bank, _ = meter
    with Dlt645Client.open(path, parity=PTY_PARITY, timeout=1.0) as client:
        assert client.read_address() == ADDR
        assert client.read(data_ids.REMAINING_AMOUNT) == Decimal("87.65")
        status = client.read(data_ids.STATUS_WORD_3)
        assert isinstance(status, int) and status & data_ids.SW3_METER_TYPE_MONEY_PREPAID

        client.write(data_ids.ALARM_AMOUNT_1, Decimal("35.50"), password=PASSWORD)
        assert client.read(data_ids.ALARM_AMOUNT_1) == Decimal("35.50")

        with pytest.raises(MeterAbnormalReply) as info:
            client.write(data_ids.ALARM_AMOUNT_1, Decimal("1"), password=bytes(4))
        assert info.value.error_word == 0x04

        with pytest.raises(MeterAbnormalReply) as info:
            client.read(data_ids.OVERDRAFT_AMOUNT)
        assert info.value.reasons == ["no requested data"]

        assert client.read_raw(LONG_DI) == bank.values[LONG_DI]  # needs 0x12 follow-ups

        until = dt.datetime(2030, 1, 1)
        client.relay_control(RelayCommand.TRIP, password=PASSWORD, valid_until=until)
        assert bank.relay_commands == [RelayCommand.TRIP]

        client.broadcast_time(dt.datetime(2024, 5, 17, 8, 30, 15))
        # The broadcast has no reply; the next exchange proves the meter processed it.
        assert client.read(data_ids.REMAINING_AMOUNT) == Decimal("87.65")
        assert bank.times == [dt.datetime(2024, 5, 17, 8, 30, 15)]


def test_responder_resyncs_after_garbage(meter: tuple[str, DictBank, Dlt645Responder]) -> None:
    path, _, _ = meter
    with Dlt645Client.open(path, parity=PTY_PARITY, timeout=1.0, address=ADDR) as client:
        client._port.write(b"\x68\x00\x11garbage\x68" * 3)
        assert client.read(data_ids.REMAINING_AMOUNT) == Decimal("87.65")


def test_open_failure_names_port_and_hint() -> None:
    with pytest.raises(ProtocolError, match=r"cannot open DL/T 645 port '/nonexistent/tty'"):
        Dlt645Client.open("/nonexistent/tty")


def test_responder_ignores_other_addresses_and_answers_matching_wildcards() -> None:
    responder = Dlt645Responder(ADDR, DictBank())
    di = data_ids.di_to_bytes(data_ids.REMAINING_AMOUNT)
    assert responder.respond(Frame("000000000001", 0x11, di)) is None
    # Point to point, a wildcard read is answered under the meter's own address.
    direct = responder.respond(Frame(ADDR, 0x11, di))
    assert direct is not None and direct.address == ADDR
    assert responder.respond(Frame("AAAAAAAAAAAA", 0x11, di)) == direct
    assert responder.respond(Frame("AAAAAAAA0001", 0x11, di)) == direct  # AA-padded high bytes
    assert responder.respond(Frame("AAAAAAAA0002", 0x11, di)) is None
    assert responder.respond(Frame("AAAAAAAAAAAA", 0x13)) == Frame(
        ADDR, 0x93, bytes.fromhex("01 00 17 05 24 20")
    )
    assert responder.respond(Frame("AAAAAAAAAAA2", 0x13)) is None
    unsupported = responder.respond(Frame(ADDR, 0x16, b""))
    assert unsupported == Frame(ADDR, 0xD6, b"\x01")
