"""Exact command bytes: the card spec (docs/card-spec.md) is the contract for both ends."""

import pytest

from rig.card import apdu as A


def test_select_aid_bytes() -> None:
    assert A.select_aid().to_bytes() == bytes.fromhex("00A4040007F052494750500100"[:-2])
    assert A.AID == b"\xf0RIGPP\x01"


def test_select_ef_bytes() -> None:
    cmd = A.select_ef(0x0102)
    assert cmd.to_bytes() == bytes.fromhex("00A4020C020102")
    assert cmd.name == "SELECT EF 0102"


def test_read_binary_bytes() -> None:
    assert A.read_binary(0, 27).to_bytes() == bytes.fromhex("00B000001B")
    assert A.read_binary(0x0123, 256).to_bytes() == bytes.fromhex("00B0012300")
    assert A.read_binary(5, 1, fid=0x0104).name == "READ BINARY EF 0104 offset 5"


def test_update_binary_bytes() -> None:
    cmd = A.update_binary(0x10, b"\x01\x02\x03", fid=0x0102)
    assert cmd.to_bytes() == bytes.fromhex("00D6001003010203")
    assert cmd.name == "UPDATE BINARY EF 0102 offset 16"


def test_get_challenge_bytes() -> None:
    assert A.get_challenge().to_bytes() == bytes.fromhex("0084000008")


def test_internal_authenticate_bytes() -> None:
    cmd = A.internal_authenticate(1, bytes.fromhex("0102030405060708"))
    assert cmd.to_bytes() == bytes.fromhex("00880001080102030405060708" "08")
    assert cmd.name == "INTERNAL AUTHENTICATE key 01" and cmd.is_secret


@pytest.mark.parametrize("bad", [lambda: A.read_binary(0x8000, 1), lambda: A.read_binary(0, 0),
                                 lambda: A.internal_authenticate(1, bytes(7)),
                                 lambda: A.internal_authenticate(0, bytes(8)),
                                 lambda: A.update_binary(0, b""),
                                 lambda: A.update_binary(0, bytes(256)),
                                 lambda: A.select_ef(0x10000)])
def test_builders_refuse_unencodable(bad) -> None:
    with pytest.raises(ValueError):
        bad()


def test_status_word_error_message() -> None:
    err = A.StatusWordError("UPDATE BINARY EF 0102 offset 0", 0x6A, 0x82)
    assert str(err) == "UPDATE BINARY EF 0102 offset 0: SW 6A82 file not found"
    assert err.sw == 0x6A82 and err.apdu_name.startswith("UPDATE BINARY")
    assert "exact length is 27" in str(A.StatusWordError("READ BINARY", 0x6C, 27))


def test_describe_raw_apdus() -> None:
    assert A.describe(bytes.fromhex("00A4020C020103")) == "SELECT EF 0103"
    assert A.describe(bytes.fromhex("00B0000510")) == "READ BINARY offset 5"
    assert A.describe(b"\x00") == "short APDU (1 bytes)"


def test_authenticate_is_secret() -> None:
    cmd = A.CommandApdu(0, A.INS_EXTERNAL_AUTHENTICATE, 0, 1, bytes(16))
    assert cmd.is_secret
    assert not A.get_challenge().is_secret
