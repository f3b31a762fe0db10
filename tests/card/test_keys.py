"""Key handling: CMAC/KDF vectors and the rule that key bytes never get printed."""

from importlib.resources import as_file, files
from pathlib import Path

import pytest

from rig.card.keys import (
    LAB_TEST_KEY_ID,
    KeyLoadError,
    MasterKey,
    cmac_aes,
    derive_meter_key,
    key_id,
    lab_test_key,
    mac,
    mac_matches,
)
from rig.errors import CardError, ConfigError

RFC4493_KEY = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
LAB_KEY_FILE = files("rig") / "data" / "keys" / "lab-master.key"  # package data


def test_cmac_rfc4493_example2() -> None:
    msg = bytes.fromhex("6bc1bee22e409f96e93d7e117393172a")
    assert cmac_aes(RFC4493_KEY, msg).hex() == "070a16b46b4d4144f79bdd9dd04a287c"
    assert mac(RFC4493_KEY, msg).hex() == "070a16b46b4d4144"


def test_cmac_rfc4493_example1_empty() -> None:
    assert cmac_aes(RFC4493_KEY, b"").hex() == "bb1d6929e95937287fa37d129b756746"


def test_kdf_is_sp800_108_counter_mode_with_cmac() -> None:
    """Recompute the single KDF block by hand: CMAC(K, [1]_32 || label || 00 || ctx || [128]_32)."""
    master = MasterKey(RFC4493_KEY)
    ctx = bytes.fromhex("123456789012") + b"\x03"
    fixed = b"\x00\x00\x00\x01" + b"RIG-METER" + b"\x00" + ctx + b"\x00\x00\x00\x80"
    assert derive_meter_key(master, "123456789012", 3) == cmac_aes(RFC4493_KEY, fixed)


def test_kdf_binds_meter_and_revision() -> None:
    m = MasterKey(RFC4493_KEY)
    k = derive_meter_key(m, "000000000001", 1)
    assert len(k) == 16
    assert k != derive_meter_key(m, "000000000002", 1)
    assert k != derive_meter_key(m, "000000000001", 2)
    with pytest.raises(ValueError):
        derive_meter_key(m, "12345", 1)
    with pytest.raises(ValueError):
        derive_meter_key(m, "000000000001", 256)


def test_mac_matches() -> None:
    tag = mac(RFC4493_KEY, b"data")
    assert mac_matches(RFC4493_KEY, b"data", tag)
    assert not mac_matches(RFC4493_KEY, b"datb", tag)


def test_repr_never_shows_key() -> None:
    m = MasterKey(RFC4493_KEY)
    for text in (repr(m), str(m), f"{m}", repr([m])):
        assert RFC4493_KEY.hex() not in text.lower()
        assert "<redacted>" in text
        assert key_id(RFC4493_KEY) in text
    assert len(m.key_id) == 8 and m.key_id not in RFC4493_KEY.hex()


def test_from_file_with_comments(tmp_path: Path) -> None:
    f = tmp_path / "k.key"
    f.write_text("# test key\n2b7e1516 28aed2a6\n  abf71588 09cf4f3c  # tail\n")
    assert MasterKey.from_file(f) == MasterKey(RFC4493_KEY)


def test_lab_test_key_loads_from_the_package_and_is_labelled() -> None:
    with as_file(LAB_KEY_FILE) as path:
        m = MasterKey.from_file(path)
    assert "TEST ONLY" in LAB_KEY_FILE.read_text(encoding="utf-8")
    assert m == lab_test_key()
    assert m.key_id == LAB_TEST_KEY_ID and m.is_public_test_key
    assert m.label == f"{LAB_TEST_KEY_ID} (public test key)"
    assert "public test key" in repr(m)
    assert not MasterKey(RFC4493_KEY).is_public_test_key
    assert "public test key" not in repr(MasterKey(RFC4493_KEY))


@pytest.mark.parametrize("content", ["zz" * 16, "00" * 15, "00" * 17, ""])
def test_from_file_bad_content_names_file_not_content(tmp_path: Path, content: str) -> None:
    f = tmp_path / "bad.key"
    f.write_text(content)
    with pytest.raises(KeyLoadError) as ei:
        MasterKey.from_file(f)
    assert str(f) in str(ei.value)
    if content:
        assert content not in str(ei.value)
    assert isinstance(ei.value, CardError) and isinstance(ei.value, ConfigError)


def test_from_file_missing(tmp_path: Path) -> None:
    with pytest.raises(KeyLoadError, match="cannot read"):
        MasterKey.from_file(tmp_path / "nope.key")


def test_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIG_MASTER_KEY", RFC4493_KEY.hex())
    assert MasterKey.from_env() == MasterKey(RFC4493_KEY)
    monkeypatch.setenv("RIG_OTHER_KEY", "nothex-secretvalue")
    with pytest.raises(KeyLoadError, match="RIG_OTHER_KEY") as ei:
        MasterKey.from_env("RIG_OTHER_KEY")
    assert "secretvalue" not in str(ei.value)
    monkeypatch.delenv("RIG_MASTER_KEY")
    with pytest.raises(KeyLoadError, match="RIG_MASTER_KEY is not set"):
        MasterKey.from_env()


def test_master_key_not_picklable() -> None:
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(MasterKey(RFC4493_KEY))
