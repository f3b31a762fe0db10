"""The codec against the published STS 531-1 conformance vectors and RFC 2994 (tests/sts/vectors.py
names the source of each): every token is generated digit for digit from its inputs, and
decodes back to them under the same decoder key."""

from __future__ import annotations

from decimal import Decimal

import pytest

from rig.sts import token as tk
from rig.sts import tokens
from rig.sts.keys import Encryption, MeterIdentity, dkga02, dkga04
from rig.sts.misty1 import Misty1
from tests.sts import vectors as v

STA, MISTY1 = Encryption.STA, Encryption.MISTY1


def dk02(pan: str = v.PAN, ti: str = "01") -> bytes:
    meter = MeterIdentity(pan, v.DKGA02_SGC, ti, 1, 2)
    return dkga02(bytes.fromhex(v.DKGA02_VENDING_KEY), meter)


def dk04(encryption: Encryption, base: int = 1993, krn: int = 1, pan: str = v.PAN,
         ti: str = "01") -> bytes:
    meter = MeterIdentity(pan, v.DKGA04_SGC, ti, krn, 2)
    return dkga04(bytes.fromhex(v.DKGA04_VENDING_KEY), meter, encryption, base)


def test_dkga02_decoder_key_msb_first() -> None:
    """The decoder key of the CTSA set-up, in the order the cipher takes it; the vectors
    below only come out with this key, so it is checked by all of them."""
    assert dk02().hex().upper() == "E653341F9D5BF36F"


@pytest.mark.parametrize(("key", "plain", "cipher"), v.MISTY1_RFC2994)
def test_misty1_rfc2994(key: str, plain: str, cipher: str) -> None:
    m = Misty1(bytes.fromhex(key))
    assert m.encrypt_block(bytes.fromhex(plain)).hex() == cipher
    assert m.decrypt_block(bytes.fromhex(cipher)).hex() == plain


@pytest.mark.parametrize(("case", "pan", "when", "steps", "expected"), v.CREDIT_STA)
def test_credit_sta(case: str, pan: str, when, steps: int, expected: str) -> None:
    key = dk02(pan)
    amount = Decimal(steps) / 10
    issue = tokens.Issue(when, 1993, v.RND)
    assert tokens.credit_token(key, STA, subclass=0, amount=amount, issue=issue) == expected
    info = tokens.describe(tk.decode(expected, key, STA), 1993)
    assert info["issued_at"] == when.isoformat() and info["unit"] == "kWh"
    assert Decimal(str(info["amount"])) >= amount  # rounded up, never down


@pytest.mark.parametrize(("case", "subclass", "when", "value", "expected"), v.MANAGEMENT_STA)
def test_management_sta(case: str, subclass: int, when, value: int, expected: str) -> None:
    key = dk02()
    issue = tokens.Issue(when, 1993, v.RND)
    assert tokens.management_token(key, STA, subclass=subclass, value=value,
                                   issue=issue) == expected
    decoded = tk.decode(expected, key, STA)
    assert (decoded.token_class, decoded.subclass) == (2, subclass)


@pytest.mark.parametrize(("case", "base", "krn", "when", "expected"), v.CREDIT_DKGA04_STA)
def test_credit_dkga04_sta(case: str, base: int, krn: int, when, expected: str) -> None:
    key = dk04(STA, base, krn)
    issue = tokens.Issue(when, base, v.RND)
    assert tokens.credit_token(key, STA, subclass=0, amount=Decimal("0.1"),
                               issue=issue) == expected
    assert tokens.describe(tk.decode(expected, key, STA), base)["issued_at"] == when.isoformat()


@pytest.mark.parametrize(("case", "pan", "base", "krn", "when", "steps", "expected"),
                         v.CREDIT_MISTY1)
def test_credit_misty1(case: str, pan: str, base: int, krn: int, when, steps: int,
                       expected: str) -> None:
    key = dk04(MISTY1, base, krn, pan)
    issue = tokens.Issue(when, base, v.RND)
    assert tokens.credit_token(key, MISTY1, subclass=0, amount=Decimal(steps) / 10,
                               issue=issue) == expected
    assert tk.decode(expected, key, MISTY1).subclass == 0


@pytest.mark.parametrize(("case", "subclass", "when", "value", "expected"),
                         v.MANAGEMENT_MISTY1)
def test_management_misty1(case: str, subclass: int, when, value: int, expected: str) -> None:
    issue = tokens.Issue(when, 1993, v.RND)
    assert tokens.management_token(dk04(MISTY1), MISTY1, subclass=subclass, value=value,
                                   issue=issue) == expected


@pytest.mark.parametrize(("case", "old_ti", "new_ti", "expected"), v.KEY_CHANGE_DKGA02_STA)
def test_key_change_dkga02(case: str, old_ti: str, new_ti: str, expected: list[str]) -> None:
    change = tokens.KeyChange(new_key=dk02(ti=new_ti), key_revision=1, key_type=2,
                              tariff_index=new_ti, key_expiry=255)
    assert tokens.key_change_tokens(dk02(ti=old_ti), STA, change) == expected


def test_key_change_rollover_to_2035() -> None:
    """CTSA26: from a 2014 key (KRN 4) to a 2035 key (KRN 5) with the roll-over flag set."""
    _case, expected = v.KEY_CHANGE_ROLLOVER_STA
    change = tokens.KeyChange(new_key=dk04(STA, 2035, 5), key_revision=5, key_type=2,
                              tariff_index="01", key_expiry=255, rollover=True)
    assert tokens.key_change_tokens(dk04(STA, 2014, 4), STA, change) == expected
    section1 = tokens.describe(tk.decode(expected[0], dk04(STA, 2014, 4), STA), 2014)
    assert section1["rollover"] is True and section1["key_revision"] == 5


def test_key_change_misty1_four_sections() -> None:
    _case, expected = v.KEY_CHANGE_MISTY1
    change = tokens.KeyChange(new_key=dk04(MISTY1, ti="02"), key_revision=1, key_type=2,
                              tariff_index="02", key_expiry=255, supply_group=v.DKGA04_SGC)
    assert tokens.key_change_tokens(dk04(MISTY1), MISTY1, change) == expected


@pytest.mark.parametrize(("case", "subclass", "control", "expected"), v.TEST_TOKENS)
def test_class1_test_tokens(case: str, subclass: int, control: int, expected: str) -> None:
    assert tokens.test_token(subclass, control, 0) == expected
    decoded = tk.decode(expected, b"", STA)  # not encrypted: no key needed
    assert (decoded.token_class, decoded.subclass) == (1, subclass)
