"""The DL/T 645 security commands (03H) byte by byte, against the State Grid layouts cited in
docs/protocols.md: DI and operator code first, every field low byte first, +33H on the wire;
the abnormal reply C3H with its 2-byte SERR decoded bit by bit."""

from __future__ import annotations

import pytest

from rig.errors import ProtocolError
from rig.meter.dlt645 import security as sec
from rig.meter.dlt645.frame import Frame, decode_frame, encode_frame
from rig.meter.dlt645.server import Dlt645Responder

ADDR = "000000001365"
ADDR_WIRE = "65 13 00 00 00 00"
OP = bytes.fromhex("00000000")


def wire(data: str) -> str:
    """Plain data bytes as the line carries them (+33H)."""
    return bytes((b + 0x33) & 0xFF for b in bytes.fromhex(data)).hex(" ").upper()


def request_frame(di: int, body: bytes) -> bytes:
    return encode_frame(Frame(ADDR, sec.CONTROL_SECURITY, sec.request_data(di, OP, body)), 0)


def expect_frame(control: str, plain: str) -> bytes:
    """68 A0..A5 68 C L DATA CS 16 with the data given plain (the standard's frame rule)."""
    n = len(bytes.fromhex(plain))
    head = bytes.fromhex(f"68 {ADDR_WIRE} 68 {control} {n:02X}") + bytes.fromhex(wire(plain))
    return head + bytes([sum(head) & 0xFF, 0x16])


def test_identity_authentication_request_and_reply() -> None:
    req = sec.IdentityRequest(bytes.fromhex("0102030405060708"), bytes.fromhex("1112131415161718"),
                              bytes.fromhex("0000000000001365"))
    assert request_frame(sec.DI_IDENTITY, req.encode()) == expect_frame(
        "03", "FF 00 00 07  00 00 00 00  08 07 06 05 04 03 02 01  18 17 16 15 14 13 12 11"
              "  65 13 00 00 00 00 00 00")
    reply = decode_frame(expect_frame("83", "FF 00 00 07  D4 C3 B2 A1  01 00 00 00 00 00 00 00"))
    assert reply.data[:4] == sec.DI_IDENTITY.to_bytes(4, "little")
    answer = sec.IdentityReply.decode(reply.data[4:])
    assert answer == sec.IdentityReply(bytes.fromhex("A1B2C3D4"),
                                       bytes.fromhex("0000000000000001"))
    assert answer.encode() == reply.data[4:]
    assert sec.IdentityRequest.decode(req.encode()) == req


def test_validity_time_is_bcd_minutes_with_a_mac() -> None:
    req = sec.ValidityRequest(30, bytes.fromhex("CAFEBABE"))
    assert req.mac_input == bytes.fromhex("0030")
    assert request_frame(sec.DI_IDENTITY_VALIDITY, req.encode()) == expect_frame(
        "03", "FF 01 00 07  00 00 00 00  30 00  BE BA FE CA")
    assert sec.ValidityRequest.decode(req.encode()) == req
    with pytest.raises(ProtocolError, match="not BCD"):
        sec.ValidityRequest.decode(bytes.fromhex("3A00BEBAFECA"))


def test_authentication_invalidation_reply() -> None:
    assert request_frame(sec.DI_IDENTITY_END, b"") == expect_frame(
        "03", "FF 02 00 07  00 00 00 00")
    reply = sec.InvalidationReply.decode(bytes.fromhex(
        "56 34 12 00 00 00  D0 07 00 00  03 00 00 00  01 00 00 00"))
    assert reply == sec.InvalidationReply("000000123456", 2000, 3, 1)
    assert reply.encode() == bytes.fromhex(
        "56 34 12 00 00 00  D0 07 00 00  03 00 00 00  01 00 00 00")


@pytest.mark.parametrize(("di", "code"), [(sec.DI_OPEN_ACCOUNT, "FF 01 01 07"),
                                          (sec.DI_RECHARGE, "FF 02 01 07")])
def test_open_account_and_recharge_share_one_layout(di: int, code: str) -> None:
    req = sec.PurchaseRequest(2000, 1, bytes.fromhex("11223344"), "000000123456",
                              bytes.fromhex("55667788"))
    assert req.mac1_input == bytes.fromhex("000007D0 00000001")
    assert req.mac2_input == bytes.fromhex("000000123456")
    assert request_frame(di, req.encode()) == expect_frame(
        "03", f"{code}  00 00 00 00  D0 07 00 00  01 00 00 00  44 33 22 11"
              "  56 34 12 00 00 00  88 77 66 55")
    assert sec.PurchaseRequest.decode(req.encode()) == req
    with pytest.raises(ProtocolError, match="21 data bytes, expected 22"):
        sec.PurchaseRequest.decode(req.encode()[:-1])


def test_wallet_initialisation() -> None:
    req = sec.WalletInitRequest(500, bytes.fromhex("01020304"), 0, bytes.fromhex("05060708"))
    assert request_frame(sec.DI_WALLET_INIT, req.encode()) == expect_frame(
        "03", "FF 03 01 07  00 00 00 00  F4 01 00 00  04 03 02 01  00 00 00 00  08 07 06 05")
    assert sec.WalletInitRequest.decode(req.encode()) == req


def test_key_update_records_and_mac() -> None:
    key = bytes(range(32))
    rec = sec.KeyRecord(key, state=1, key_no=9, total=9)
    req = sec.KeyUpdateRequest((rec,), bytes.fromhex("AABBCCDD"))
    assert rec.plain == key + bytes.fromhex("01 09 00 09")
    body = (bytes.fromhex("09 00 09 01") + key[::-1]).hex(" ") + "  DD CC BB AA"
    assert request_frame(sec.DI_KEY_UPDATE, req.encode()) == expect_frame(
        "03", f"FF 01 03 07  00 00 00 00  {body}")
    assert sec.KeyUpdateRequest.decode(req.encode()) == req
    with pytest.raises(ProtocolError, match="key records"):
        sec.KeyUpdateRequest.decode(req.encode()[:-1])
    with pytest.raises(ValueError, match="1 to 4 keys"):
        sec.KeyUpdateRequest((rec,) * 5, bytes(4)).encode()


def test_data_readback_request_and_reply() -> None:
    target = sec.ReadbackTarget(14, 0, sec.FILE_PURSE)
    assert request_frame(sec.DI_READBACK, target.encode()) == expect_frame(
        "03", "FF 01 80 07  00 00 00 00  0E 00 00 00 01 00 01 DF")
    reply = sec.ReadbackReply.decode(bytes.fromhex(
        "0E 00 00 00 01 00 01 DF  03 02 01  44 33 22 11"))
    assert reply.target == target and reply.data == bytes.fromhex("010203")
    assert reply.mac == bytes.fromhex("11223344")
    assert reply.mac_input == bytes.fromhex("000E 0000 0001 DF01 010203")


def test_abnormal_reply_carries_the_two_byte_serr() -> None:
    frame = decode_frame(expect_frame("C3", "08 00"))
    assert frame.is_abnormal and frame.function_code == sec.CONTROL_SECURITY
    serr = sec.serr_from(frame.data)
    assert serr == sec.SERR_IDENTITY
    assert sec.decode_serr(serr) == ["identity authentication failed"]
    assert sec.decode_serr(0x0166) == ["repeated recharge", "ESAM verification failed",
                                       "recharge count error",
                                       "purchase exceeds the hoarding limit", "meter suspended"]
    assert sec.decode_serr(0x0200) == ["reserved bits 0200"]
    assert sec.serr_bytes(sec.SERR_SUSPENDED | sec.SERR_CUSTOMER) == bytes.fromhex("10 01")


def test_a_request_for_an_unknown_command_is_refused_before_the_line() -> None:
    with pytest.raises(ValueError, match="070099FF"):
        sec.request_data(0x070099FF, OP, b"")


def test_plain_text_write_of_the_price_file() -> None:
    data = sec.price_file(2, 5283)
    req = sec.PlainWriteRequest(sec.FILE_PRICE, 0, data, bytes.fromhex("0A0B0C0D"))
    assert req.mac_input == bytes.fromhex("05 0000 00000002 000014A3")
    assert request_frame(sec.DI_WRITE_PLAIN, req.encode()) == expect_frame(
        "03", "FF 04 00 07  00 00 00 00  05 00 00  A3 14 00 00 02 00 00 00  0D 0C 0B 0A")
    assert sec.PlainWriteRequest.decode(req.encode()) == req


def test_a_meter_without_an_esam_or_a_bad_command_answers_other_error() -> None:
    body = sec.IdentityRequest(bytes(8), bytes(8), bytes(8)).encode()
    plain = Dlt645Responder(ADDR, object())  # type: ignore[arg-type]
    reply = plain.respond(Frame(ADDR, 0x03, sec.request_data(sec.DI_IDENTITY, OP, body)))
    assert reply is not None and (reply.control, reply.data) == (0xC3, bytes.fromhex("01 00"))
    assert "no ESAM" in plain.errors[-1]
    unknown = bytes.fromhex("FF 99 00 07") + OP
    short = sec.request_data(sec.DI_RECHARGE, OP, bytes(21))
    for data in (unknown, short):
        plain.security = object()  # type: ignore[assignment]
        reply = plain.respond(Frame(ADDR, 0x03, data))
        assert reply is not None and (reply.control, reply.data) == (0xC3, bytes.fromhex("01 00"))
