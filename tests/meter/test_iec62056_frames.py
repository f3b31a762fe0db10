"""IEC 62056-21 mode C messages byte for byte: sign-on, identification, option select, BCC,
programming commands, readout, data sets, and the 7E1 parity bit put in software."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rig.meter.iec62056 import frames as f


def test_sign_on_and_identification_bytes() -> None:
    assert f.request() == b"/?!\r\n"
    assert f.request("10020001") == b"/?10020001!\r\n"
    assert f.identification("RIG", 9600, "PP1E") == b"/RIG5PP1E\r\n"
    ident = f.parse_identification(b"/ISk5MT174-0001\r\n")
    assert (ident.manufacturer, ident.baudrate, ident.ident) == ("ISk", 9600, "MT174-0001")
    assert ident.short_reaction  # lower-case third letter: 20 ms reaction time
    with pytest.raises(f.Iec62056Error, match="baud-rate character 'Z'"):
        f.parse_identification(b"/RIGZxx\r\n")
    with pytest.raises(ValueError, match="device address"):
        f.request("12!3")


def test_option_select_bytes() -> None:
    assert f.ack_option(9600, f.MODE_READOUT) == b"\x06050\r\n"
    assert f.ack_option(300, f.MODE_PROGRAMMING) == b"\x06001\r\n"
    assert f.ack_option(19200, "0") == b"\x06060\r\n"


def test_break_is_the_well_known_soh_b0_etx_q() -> None:
    assert f.command("B", "0") == b"\x01B0\x03q"


def test_command_and_data_message_bcc() -> None:
    p1 = f.command("P", "1", "(12345678)")
    assert p1[:4] == b"\x01P1\x02" and p1[-2:-1] == b"\x03"
    body = b"P1\x02(12345678)\x03"
    expected = 0
    for b in body:
        expected ^= b
    assert p1[-1] == expected == 0x69  # "i", worked by hand in the docs
    assert f.data_message("1.8.0(000123.456*kWh)")[-2:] == b"\x03" + bytes(
        [f.bcc(b"1.8.0(000123.456*kWh)\x03")])


def test_readout_layout() -> None:
    raw = f.readout(["0.0.0(10020001)", "1.8.0(000012.345*kWh)"])
    assert raw[:-1] == b"\x020.0.0(10020001)\r\n1.8.0(000012.345*kWh)\r\n!\r\n\x03"
    assert raw[-1] == f.bcc(raw[1:-1])


def test_seven_e1_parity_in_software() -> None:
    # '/' 0x2F has five ones: parity bit set; '?' 0x3F six: clear; CR 0x0D three: set.
    assert f.with_even_parity(b"/?!\r\n") == bytes.fromhex("AF 3F 21 8D 0A")
    assert f.strip_even_parity(bytes.fromhex("AF 3F 21 8D 0A")) == b"/?!\r\n"
    with pytest.raises(f.Iec62056Error, match="parity error in byte 0"):
        f.strip_even_parity(b"\x2f")
    with pytest.raises(ValueError, match="not a 7-bit"):
        f.with_even_parity(b"\xc3")


@given(st.binary(max_size=64).map(lambda b: bytes(x & 0x7F for x in b)))
def test_parity_round_trip(data: bytes) -> None:
    wire = f.with_even_parity(data)
    assert all(bin(b).count("1") % 2 == 0 for b in wire)
    assert f.strip_even_parity(wire) == data


def test_datasets_parse() -> None:
    sets = f.parse_datasets("1.8.0(000012.345*kWh)\r\nC.5.0(0011)\r\n0.9.1(153000)(x)")
    assert [str(s) for s in sets] == [
        "1.8.0(000012.345*kWh)", "C.5.0(0011)", "0.9.1(153000)", "0.9.1(x)"]
    assert sets[0].unit == "kWh" and sets[0].value == "000012.345"
    with pytest.raises(f.Iec62056Error, match="not a data set"):
        f.parse_datasets("1.8.0 12")


def test_reader_splits_lines_blocks_and_checks_bcc() -> None:
    meter_side = f.MessageReader(ack_starts_line=True)
    assert meter_side.feed(b"/?!\r") == []
    assert meter_side.feed(b"\n\x06051\r\n") == [b"/?!\r\n", b"\x06051\r\n"]
    client_side = f.MessageReader(ack_starts_line=False)
    block = f.data_message("(ERROR)")
    assert client_side.feed(b"\x06" + block[:3]) == [b"\x06"]
    assert client_side.feed(block[3:]) == [block]
    with pytest.raises(f.Iec62056Error, match=r"BCC .* wrong"):
        client_side.feed(block[:-1] + bytes([block[-1] ^ 1]))


# Reference messages written out by hand (BCC = XOR from after SOH/STX through ETX):
# R1 1.8.0(): 52^31=63 ^02=61 ^31=50 ^2E=7E ^38=46 ^2E=68 ^30=58 ^28=70 ^29=59 ^03=5A ('Z')
R1_ENERGY = bytes.fromhex("01 52 31 02 31 2E 38 2E 30 28 29 03 5A")
# W1 C.53.1(0): 57^31=66 ^02=64 ^43=27 ^2E=09 ^35=3C ^33=0F ^2E=21 ^31=10 ^28=38 ^30=08
#   ^29=21 ^03=22 ('"')
W1_TRIP = bytes.fromhex("01 57 31 02 43 2E 35 33 2E 31 28 30 29 03 22")
# Readout of one data set: STX 0.0.0(10020001) CR LF ! CR LF ETX BCC; XOR of the characters
#   after STX: 30 2E 30 2E 30 28 31 30 30 32 30 30 30 31 29 0D 0A 21 0D 0A 03 = 11
READOUT_ONE = b"\x020.0.0(10020001)\r\n!\r\n\x03\x11"


def test_reference_programming_and_readout_messages() -> None:
    assert f.command("R", "1", "1.8.0()") == R1_ENERGY
    assert f.command("W", "1", "C.53.1(0)") == W1_TRIP
    assert f.readout(["0.0.0(10020001)"]) == READOUT_ONE


def test_reference_messages_as_7e1_characters() -> None:
    # Bit 7 set where the 7-bit character has an odd number of ones: SOH 01 -> 81, R 52 -> D2,
    # 1 31 -> B1, STX 02 -> 82, 8 38 -> B8, ) 29 -> A9; '.', '0', '(', ETX, 'Z' stay.
    assert f.with_even_parity(R1_ENERGY) == bytes.fromhex(
        "81 D2 B1 82 B1 2E B8 2E 30 28 A9 03 5A")
    # ACK 0 5 0 CR LF (9600 Bd, readout): only CR 0D (three ones) gains the bit.
    assert f.with_even_parity(f.ack_option(9600, f.MODE_READOUT)) == bytes.fromhex(
        "06 30 35 30 8D 0A")
