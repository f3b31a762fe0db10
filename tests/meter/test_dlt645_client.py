"""Client behaviour against a scripted port: exact bytes, retries, timeouts, abnormal replies."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from rig.errors import ProtocolError
from rig.meter.dlt645 import data_ids
from rig.meter.dlt645.client import Dlt645Client, MeterAbnormalReply, MeterTimeout, RelayCommand
from rig.meter.dlt645.frame import Frame, FrameError, encode_frame
from rig.meter.transcript import Transcript
from rig.testing import ScriptedSerial

from .test_dlt645_frame import (
    READ_ADDRESS_REQUEST,
    READ_REMAINING_REPLY,
    READ_REMAINING_REQUEST,
)

ADDR = "000000000001"


def reply(control: int, data: bytes, address: str = ADDR) -> bytes:
    return encode_frame(Frame(address, control, data))


def client_for(
    script: list[tuple[bytes, bytes]], **kw: object
) -> tuple[Dlt645Client, ScriptedSerial]:
    port = ScriptedSerial(script)
    kw.setdefault("timeout", 0.1)
    return Dlt645Client(port, ADDR, **kw), port  # type: ignore[arg-type]


def test_read_remaining_amount_exact_exchange() -> None:
    transcript = Transcript()
    client, port = client_for(
        [(READ_REMAINING_REQUEST, READ_REMAINING_REPLY)], transcript=transcript
    )
    assert client.read(data_ids.REMAINING_AMOUNT) == Decimal("1234.56")
    port.assert_done()
    assert next(e.direction for e in transcript.entries) == "tx"
    assert (
        b"".join(e.data for e in transcript.entries if e.direction == "rx") == READ_REMAINING_REPLY
    )
    assert "68 01 00 00 00 00 00 68 11 04 33 35 C3 33 44 16" in transcript.to_text()


def test_read_address_sets_address() -> None:
    port = ScriptedSerial(
        [(READ_ADDRESS_REQUEST, reply(0x93, bytes.fromhex("12 90 78 56 34 12"), "123456789012"))]
    )
    client = Dlt645Client(port, timeout=0.1)  # type: ignore[arg-type]
    assert client.read_address() == "123456789012"
    assert client.address == "123456789012"


def test_retry_after_bad_checksum_then_success() -> None:
    bad = bytearray(READ_REMAINING_REPLY)
    bad[-2] ^= 0x55
    client, port = client_for(
        [(READ_REMAINING_REQUEST, bytes(bad)), (READ_REMAINING_REQUEST, READ_REMAINING_REPLY)]
    )
    assert client.read(data_ids.REMAINING_AMOUNT) == Decimal("1234.56")
    port.assert_done()


def test_checksum_errors_exhaust_retries() -> None:
    bad = bytearray(READ_REMAINING_REPLY)
    bad[-2] ^= 0x55
    client, port = client_for([(READ_REMAINING_REQUEST, bytes(bad))] * 2, retries=1)
    with pytest.raises(FrameError, match=r"C=11 DI=00900200 to meter 000000000001: bad checksum"):
        client.read(data_ids.REMAINING_AMOUNT)
    port.assert_done()


def test_timeout_names_request() -> None:
    client, port = client_for([(READ_REMAINING_REQUEST, b"")] * 3, timeout=0.05, retries=2)
    with pytest.raises(MeterTimeout) as info:
        client.read(data_ids.REMAINING_AMOUNT)
    message = str(info.value)
    assert "C=11" in message and "00900200" in message and "000000000001" in message
    assert "0.05 s" in message and "3 attempt" in message
    port.assert_done()


def test_abnormal_reply_decoded_not_retried() -> None:
    client, port = client_for([(READ_REMAINING_REQUEST, reply(0xD1, b"\x02"))])
    with pytest.raises(MeterAbnormalReply) as info:
        client.read(data_ids.REMAINING_AMOUNT)
    err = info.value
    assert err.error_word == 0x02 and err.reasons == ["no requested data"]
    assert err.di == data_ids.REMAINING_AMOUNT and err.address == ADDR
    assert "00900200" in str(err) and ADDR in str(err)
    port.assert_done()


def test_reply_from_other_meter_is_protocol_error() -> None:
    other = reply(0x91, bytes.fromhex("00 02 90 00 56 34 12 00"), "000000000002")
    # ignored as noise until the timeout, whose error names it
    client, _ = client_for([(READ_REMAINING_REQUEST, other)], retries=0)
    with pytest.raises(ProtocolError, match=r"another meter.*from meter 000000000002"):
        client.read(data_ids.REMAINING_AMOUNT)


def test_reply_with_wrong_di_is_protocol_error() -> None:
    wrong = reply(0x91, bytes.fromhex("00 01 90 00 56 34 12 00"))
    # a reply to another DI is taken for a late reply and ignored until the timeout
    client, _ = client_for([(READ_REMAINING_REQUEST, wrong)], retries=0)
    with pytest.raises(ProtocolError, match="echoes DI 00900100"):
        client.read(data_ids.REMAINING_AMOUNT)


def test_followup_frames_are_joined() -> None:
    di = bytes.fromhex("00 02 90 00")
    req1 = encode_frame(Frame(ADDR, 0x11, di))
    req2 = encode_frame(Frame(ADDR, 0x12, di + b"\x01"))
    client, port = client_for(
        [(req1, reply(0xB1, di + b"\x56\x34")), (req2, reply(0x92, di + b"\x12\x00\x01"))]
    )
    assert client.read(data_ids.REMAINING_AMOUNT) == Decimal("1234.56")
    port.assert_done()


def test_write_layout_and_password_error() -> None:
    payload = (
        data_ids.di_to_bytes(data_ids.ALARM_AMOUNT_1)
        + bytes.fromhex("02 11 22 33")
        + bytes.fromhex("01 02 03 04")
        + bytes.fromhex("00 50 00 00")
    )
    request = encode_frame(Frame(ADDR, 0x14, payload))
    client, port = client_for([(request, reply(0x94, b"")), (request, reply(0xD4, b"\x04"))])
    kw = {"password": bytes.fromhex("02 11 22 33"), "operator": bytes.fromhex("01 02 03 04")}
    client.write(data_ids.ALARM_AMOUNT_1, Decimal("50.00"), **kw)
    with pytest.raises(MeterAbnormalReply, match="password error"):
        client.write(data_ids.ALARM_AMOUNT_1, Decimal("50.00"), **kw)
    port.assert_done()


def test_relay_control_and_broadcast_layout() -> None:
    until = dt.datetime(2024, 5, 17, 8, 30, 15)
    payload = bytes.fromhex("02 00 00 00 00 00 00 00 1A 00 15 30 08 17 05 24")
    request = encode_frame(Frame(ADDR, 0x1C, payload))
    broadcast = encode_frame(Frame("999999999999", 0x08, bytes.fromhex("15 30 08 17 05 24")))
    client, port = client_for([(request, reply(0x9C, b"")), (broadcast, b"")])
    client.relay_control(RelayCommand.TRIP, valid_until=until)
    client.broadcast_time(until)
    port.assert_done()


def test_context_manager_closes_port() -> None:
    client, port = client_for([])
    with client:
        pass
    assert port.closed
