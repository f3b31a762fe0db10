"""The status query (078102FF) and the enciphered relay control (1C at level 98H) byte by
byte, as rig's client sends them and reads the answers (docs/protocols.md): the State Grid
26-byte status answer, rig's cipher + MAC layout after PA P0..P2 C0..C3, each field low byte
first and +33H on the wire; the responder's answers when the meter cannot take them."""

from __future__ import annotations

import datetime as dt

import pytest

from rig.errors import ProtocolError
from rig.meter.dlt645 import security as sec
from rig.meter.dlt645.client import Dlt645Client, MeterAbnormalReply, RelayCommand
from rig.meter.dlt645.frame import Frame
from rig.meter.dlt645.server import Dlt645Responder
from rig.testing import ScriptedSerial

from .test_dlt645_security import ADDR, OP, expect_frame

STATUS_ANSWER = ("D0 07 00 00  44 33 22 11  03 00 00 00  88 77 66 55"
                 "  56 34 12 00 00 00  01 00 00 00")


def client_for(script: list[tuple[bytes, bytes]]) -> tuple[Dlt645Client, ScriptedSerial]:
    port = ScriptedSerial(script)
    return Dlt645Client(port, ADDR, timeout=0.1, preamble=0), port  # type: ignore[arg-type]


def test_status_query_request_and_its_26_byte_answer() -> None:
    client, port = client_for([(expect_frame("03", "FF 02 81 07  00 00 00 00"),
                                expect_frame("83", "FF 02 81 07  " + STATUS_ANSWER))])
    reply = client.status_query()
    port.assert_done()
    assert reply == sec.StatusReply(2000, bytes.fromhex("11223344"), 3,
                                    bytes.fromhex("55667788"), "000000123456", 1)
    assert (reply.remaining_input, reply.count_input) == (bytes.fromhex("000007D0"),
                                                          bytes.fromhex("00000003"))
    assert reply.encode() == bytes.fromhex(STATUS_ANSWER)
    with pytest.raises(ProtocolError, match="status query reply: 25 data bytes, expected 26"):
        sec.StatusReply.decode(bytes.fromhex(STATUS_ANSWER)[:-1])


def test_a_refused_status_query_carries_the_serr() -> None:
    client, _ = client_for([(expect_frame("03", "FF 02 81 07  00 00 00 00"),
                             expect_frame("C3", "08 00"))])
    with pytest.raises(MeterAbnormalReply) as e:
        client.status_query()
    assert e.value.error_word == sec.SERR_IDENTITY
    assert e.value.reasons == ["identity authentication failed"]


def test_the_relay_command_block_is_the_plain_1c_fields() -> None:
    block = sec.ControlCommand(RelayCommand.KEEP_POWER, dt.datetime(2026, 12, 3, 15, 4, 59))
    assert block.encode() == bytes.fromhex("3A 00  59 04 15 03 12 26")
    assert sec.ControlCommand.decode(block.encode()) == block
    with pytest.raises(ProtocolError, match="7 bytes, expected 8"):
        sec.ControlCommand.decode(block.encode()[:7])
    with pytest.raises(ProtocolError, match="relay command validity 590415031326"):
        sec.ControlCommand.decode(bytes.fromhex("3A 00 59 04 15 03 13 26"))  # month 13


def test_enciphered_relay_control_frame() -> None:
    cipher = bytes(range(0x10, 0x20))
    control = sec.EncipheredControl(cipher, bytes.fromhex("A1A2A3A4"))
    sent = ("98 00 00 00  00 00 00 00  1F 1E 1D 1C 1B 1A 19 18 17 16 15 14 13 12 11 10"
            "  A4 A3 A2 A1")
    client, port = client_for([(expect_frame("1C", sent), expect_frame("9C", ""))])
    client.enciphered_relay_control(control)  # PA 98H: the data is enciphered with a MAC
    port.assert_done()
    assert sec.EncipheredControl.decode(bytes.fromhex(sent)[8:]) == control
    assert control.mac_input == cipher
    with pytest.raises(ProtocolError, match="19 data bytes, expected 20"):
        sec.EncipheredControl.decode(bytes.fromhex(sent)[8:-1])


def test_a_refused_enciphered_command_carries_the_dlt645_error_word() -> None:
    control = sec.EncipheredControl(bytes(16), bytes(4))
    sent = "98 00 00 00  00 00 00 00  " + "00 " * 20
    client, _ = client_for([(expect_frame("1C", sent), expect_frame("DC", "04"))])
    with pytest.raises(MeterAbnormalReply) as e:
        client.enciphered_relay_control(control)
    assert (e.value.error_word, e.value.reasons) == (0x04, ["password error / unauthorised"])


def test_a_meter_without_an_esam_answers_unauthorised_or_other_error() -> None:
    plain = Dlt645Responder(ADDR, object())  # type: ignore[arg-type]
    enciphered = bytes.fromhex("98 00 00 00") + OP + bytes(20)
    reply = plain.respond(Frame(ADDR, 0x1C, enciphered))
    assert reply is not None and (reply.control, reply.data) == (0xDC, b"\x04")
    assert "no ESAM" in plain.errors[-1]
    plain.security = object()  # type: ignore[assignment]
    with_body = sec.request_data(sec.DI_STATUS, OP, b"\x00")
    reply = plain.respond(Frame(ADDR, 0x03, with_body))
    assert reply is not None and (reply.control, reply.data) == (0xC3, bytes.fromhex("01 00"))
    assert "takes no data" in plain.errors[-1]
