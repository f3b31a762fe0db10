"""The emulated ESAM and the lab key service agree exactly when they should, and only then."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from rig.esam import crypto
from rig.esam.esam import WALLET_MAX, Esam, EsamError, EsamRefusal, commissioned
from rig.esam.keys import KeyId, KeyState, LabKeyService, card_factor, meter_factor

METER = "000000001365"
CARD = "A1B2C3D4E5F60718"
T0 = datetime(2026, 12, 3, 10, 0)
LAB = LabKeyService(bytes(range(32)), "test lab")


def counting_rng() -> object:
    n = iter(range(1, 1000))
    return lambda k: bytes([next(n)]) * k


def test_sm4_matches_the_published_vector() -> None:
    # GB/T 32907-2016 Appendix A, example 1: key = plaintext = 0123456789abcdeffedcba9876543210
    k = bytes.fromhex("0123456789abcdeffedcba9876543210")
    assert crypto._ecb(k, k).hex() == "681edf34d206965e86b3e94f536e4246"


def test_padding_round_trips_and_refuses_garbage() -> None:
    for n in (0, 1, 15, 16, 17):
        data = bytes(range(n))
        assert crypto.decrypt(b"k" * 16, crypto.encrypt(b"k" * 16, data)) == data
    with pytest.raises(crypto.CryptoError, match="padding"):
        crypto.decrypt(b"j" * 16, crypto.encrypt(b"k" * 16, b"purchase"))


def test_mac_depends_on_data_iv_and_key() -> None:
    k = crypto.disperse(b"m" * 16, card_factor(CARD))
    m = crypto.mac(k, b"purchase 0001", b"\x01\x02\x03\x04")
    assert len(m) == 4
    assert m != crypto.mac(k, b"purchase 0002", b"\x01\x02\x03\x04")
    assert m != crypto.mac(k, b"purchase 0001", b"\x01\x02\x03\x05")
    assert m != crypto.mac(crypto.disperse(b"m" * 16, meter_factor(METER)), b"purchase 0001",
                           b"\x01\x02\x03\x04")


def test_a_factory_esam_meets_public_cards_and_refuses_private_ones() -> None:
    esam = Esam.manufactured(METER, bytes(8), rng=counting_rng())
    assert esam.key_state is KeyState.PUBLIC
    challenge = esam.challenge()
    public = LAB.cryptogram(KeyId.CARD_INTERNAL, KeyState.PUBLIC, card_factor(CARD), challenge)
    esam.check_card(CARD, challenge, public)
    private = LAB.cryptogram(KeyId.CARD_INTERNAL, KeyState.PRIVATE, card_factor(CARD), challenge)
    with pytest.raises(EsamError) as e:
        esam.check_card(CARD, challenge, private)
    assert e.value.refusal is EsamRefusal.AUTHENTICATION
    with pytest.raises(EsamError) as e:
        esam.check_key_state(KeyId.CARD_PURCHASE, KeyState.PRIVATE)
    assert e.value.refusal is EsamRefusal.KEY_STATE


def test_commissioning_moves_every_slot_to_the_private_state() -> None:
    esam = commissioned(METER, bytes(8), KeyState.PRIVATE, LAB)
    assert esam.key_state is KeyState.PRIVATE
    data, iv = b"purchase file", b"\x09" * 4
    mac = LAB.mac(KeyId.CARD_PURCHASE, KeyState.PRIVATE, card_factor(CARD), data, iv)
    esam.check_card_mac(KeyId.CARD_PURCHASE, CARD, data, iv, mac)
    ret = esam.card_mac(KeyId.CARD_RETURN, CARD, b"return file", iv)
    assert LAB.mac_ok(KeyId.CARD_RETURN, KeyState.PRIVATE, card_factor(CARD), b"return file",
                      iv, ret)
    other_lab = LabKeyService(bytes(32), "another lab")
    with pytest.raises(EsamError):
        commissioned(METER, bytes(8), KeyState.PRIVATE, other_lab).check_card_mac(
            KeyId.CARD_PURCHASE, CARD, data, iv, mac)


def test_a_key_package_sealed_under_another_key_is_refused() -> None:
    esam = Esam.manufactured(METER, bytes(8))
    package = LAB.key_package(KeyId.REMOTE_CONTROL, KeyState.PRIVATE, esam.factor,
                              sealed_with=KeyId.MASTER_CONTROL, sealed_state=KeyState.PRIVATE)
    with pytest.raises(EsamError) as e:
        esam.install_key(package)
    assert e.value.refusal is EsamRefusal.KEY_PACKAGE
    assert esam.state_of(KeyId.REMOTE_CONTROL) is KeyState.PUBLIC
    with pytest.raises(crypto.CryptoError, match="meter key"):
        LAB.key_package(KeyId.REMOTE_CONTROL, KeyState.PRIVATE, esam.factor,
                        sealed_with=KeyId.MASTER_CONTROL, sealed_state=KeyState.PUBLIC,
                        whole_master=True)


def test_identity_session_times_out_and_guards_the_macs() -> None:
    esam = Esam.manufactured(METER, bytes.fromhex("0102030405060708"), rng=counting_rng(),
                             identity_minutes=5)
    f, rand1 = meter_factor(METER), b"\x11" * 8
    with pytest.raises(EsamError) as e:
        esam.check_session_mac(KeyId.REMOTE_CONTROL, b"x", b"\0" * 4, T0)
    assert e.value.refusal is EsamRefusal.NO_IDENTITY
    bad = LAB.cryptogram(KeyId.REMOTE_IDENTITY, KeyState.PRIVATE, f, rand1)
    with pytest.raises(EsamError) as e:
        esam.identity_authenticate(bad, rand1, f, T0)
    assert e.value.refusal is EsamRefusal.IDENTITY
    cipher1 = LAB.cryptogram(KeyId.REMOTE_IDENTITY, KeyState.PUBLIC, f, rand1)
    rand2, serial = esam.identity_authenticate(cipher1, rand1, f, T0)
    assert serial.hex() == "0102030405060708" and len(rand2) == 4
    order = b"recharge 100.00 count 1"
    mac = LAB.mac(KeyId.REMOTE_CONTROL, KeyState.PUBLIC, f, order, rand2)
    esam.check_session_mac(KeyId.REMOTE_CONTROL, order, mac, T0 + timedelta(minutes=4))
    with pytest.raises(EsamError) as e:
        esam.check_session_mac(KeyId.REMOTE_CONTROL, order + b"0", mac, T0)
    assert e.value.refusal is EsamRefusal.MAC
    with pytest.raises(EsamError) as e:
        esam.check_session_mac(KeyId.REMOTE_CONTROL, order, mac, T0 + timedelta(minutes=5))
    assert e.value.refusal is EsamRefusal.NO_IDENTITY
    with pytest.raises(EsamError) as e:
        esam.identity_authenticate(cipher1, rand1, meter_factor("000000009999"), T0)
    assert e.value.refusal is EsamRefusal.IDENTITY


def test_the_wallet_takes_exactly_the_next_purchase_of_its_customer() -> None:
    esam = Esam.manufactured(METER, bytes(8))
    with pytest.raises(EsamError, match="not opened"):
        esam.credit(100, 1, "000000000042")
    esam.credit(100, 1, "000000000042", open_account=True)
    for count, refusal in ((1, EsamRefusal.PURCHASE_COUNT), (3, EsamRefusal.PURCHASE_COUNT)):
        with pytest.raises(EsamError) as e:
            esam.credit(100, count, "000000000042")
        assert e.value.refusal is refusal
    with pytest.raises(EsamError) as e:
        esam.credit(100, 2, "000000000043")
    assert e.value.refusal is EsamRefusal.CUSTOMER
    with pytest.raises(EsamError) as e:
        esam.credit(WALLET_MAX, 2, "000000000042")
    assert e.value.refusal is EsamRefusal.OVERFLOW
    esam.credit(250, 2, "000000000042")
    assert (esam.wallet.purchase_count, esam.wallet.total) == (2, 350)


def test_the_image_survives_a_power_cycle_but_the_session_does_not() -> None:
    esam = commissioned(METER, bytes(8), KeyState.PRIVATE, LAB, rng=counting_rng())
    esam.credit(500, 1, "000000000042", open_account=True)
    f, rand1 = meter_factor(METER), b"\x22" * 8
    esam.identity_authenticate(LAB.cryptogram(KeyId.REMOTE_IDENTITY, KeyState.PRIVATE, f,
                                              rand1), rand1, f, T0)
    image = esam.to_image()
    back = Esam.from_image(METER, image)
    assert back.key_state is KeyState.PRIVATE and back.wallet == esam.wallet
    assert not back.identity_valid(T0)
    assert "<redacted>" in repr(LAB) and bytes(range(32)).hex() not in repr(LAB)
    assert all(key.hex() not in repr(esam) for _, key in esam._keys.values())
