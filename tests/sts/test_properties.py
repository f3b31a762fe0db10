"""Properties of the codec: encode -> decode round trips for every class and cipher, the
amount field over its whole range, and what the CRC catches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rig.billing.centre.sts_amounts import carried_wh
from rig.sts import amount, sta, tokens
from rig.sts import token as tk
from rig.sts.errors import StsError, TokenCrcError
from rig.sts.keys import Encryption
from rig.sts.misty1 import Misty1
from tests.sts import vectors as v

ciphers = st.sampled_from(list(Encryption))
blocks = st.integers(0, (1 << 64) - 1)


def key_for(encryption: Encryption) -> st.SearchStrategy[bytes]:
    return st.binary(min_size=encryption.key_bytes, max_size=encryption.key_bytes)


@st.composite
def keyed(draw: st.DrawFn) -> tuple[Encryption, bytes]:
    encryption = draw(ciphers)
    return encryption, draw(key_for(encryption))


@st.composite
def issues(draw: st.DrawFn) -> tokens.Issue:
    base = draw(st.sampled_from([1993, 2014, 2035]))
    minutes = draw(st.integers(0, (1 << 24) - 1))
    when = datetime(base, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)
    return tokens.Issue(when, base, draw(st.integers(0, 15)))


def test_amount_field_is_a_bijection_over_all_65536_values() -> None:
    counts = [amount.count_of(f) for f in range(1 << 16)]
    assert counts == sorted(set(counts))  # strictly increasing: no two fields mean the same
    assert counts[-1] == amount.MAX_COUNT == 18_201_624
    assert all(amount.field_of(c) == f for f, c in enumerate(counts))


@given(st.integers(0, amount.MAX_COUNT))
def test_amount_rounds_up_to_the_next_representable_count(count: int) -> None:
    carried = amount.representable(count)
    field = amount.field_of(count)
    assert carried >= count
    assert field == 0 or amount.count_of(field - 1) < count  # the smallest that covers it


def test_a_sale_rounds_down_to_the_largest_count_not_above_it_over_all_65536_values() -> None:
    """Every representable count and its neighbours: a sale's token carries the count itself
    when it can, else the largest representable one below it — never more than was paid."""
    counts = [amount.count_of(f) for f in range(1 << 16)]
    for f, c in enumerate(counts):
        assert amount.field_at_most(c) == f
        if c > 0:
            assert amount.carried_at_most(c - 1) == counts[f - 1]  # the one below
        if f + 1 < len(counts):
            assert amount.carried_at_most(counts[f + 1] - 1) == c  # up to the next: this one
    assert amount.carried_at_most(amount.MAX_COUNT + 5000) == amount.MAX_COUNT


@given(st.integers(0, amount.MAX_COUNT + 10_000))
def test_a_sale_never_carries_more_than_paid(count: int) -> None:
    carried = amount.carried_at_most(count)
    assert carried <= count
    field = amount.field_at_most(count)
    assert field == 0xFFFF or amount.count_of(field + 1) > count  # the largest that fits


@given(st.integers(1, 10**9))
def test_a_token_sale_carries_whole_steps_never_above_the_energy_paid_for(wh: int) -> None:
    carried = carried_wh(wh)
    assert carried <= wh and carried % 100 == 0
    assert amount.representable(carried // 100) == carried // 100


def test_amount_beyond_the_field_is_refused() -> None:
    with pytest.raises(StsError, match="0 to 18201624"):
        amount.field_of(amount.MAX_COUNT + 1)


@given(keyed(), blocks)
def test_every_cipher_decrypts_what_it_encrypts(kc: tuple[Encryption, bytes], block: int) -> None:
    from rig.sts import ciphers as c

    encryption, key = kc
    encrypted = c.encrypt(encryption, key, block)
    assert 0 <= encrypted < 1 << 64
    assert c.decrypt(encryption, key, encrypted) == block


@given(st.binary(min_size=16, max_size=16), st.binary(min_size=8, max_size=8))
def test_misty1_round_trip(key: bytes, block: bytes) -> None:
    m = Misty1(key)
    assert m.decrypt_block(m.encrypt_block(block)) == block


@given(st.binary(min_size=8, max_size=8), blocks)
def test_sta_round_trip(key: bytes, block: int) -> None:
    assert sta.decrypt(key, sta.encrypt(key, block)) == block


@settings(max_examples=60)
@given(keyed(), st.integers(0, 7), st.integers(0, amount.MAX_COUNT), issues())
def test_credit_round_trip(kc: tuple[Encryption, bytes], subclass: int, count: int,
                           issue: tokens.Issue) -> None:
    encryption, key = kc
    _, unit, step = tokens.CREDIT_KINDS[subclass]
    digits = tokens.credit_token(key, encryption, subclass=subclass, amount=count * step,
                                 issue=issue)
    assert len(digits) == 20 and digits.isdigit()
    info = tokens.describe(tk.decode(digits, key, encryption), issue.base_year)
    assert (info["class"], info["subclass"], info["unit"]) == (0, subclass, unit)
    assert info["issued_at"] == issue.issued_at.isoformat() and info["random"] == issue.rnd
    assert Decimal(str(info["amount"])) == amount.representable(count) * step


@settings(max_examples=60)
@given(keyed(), st.sampled_from([0, 1, 2, 5, 6, 7]), st.integers(0, 0xFFFF), issues())
def test_management_round_trip(kc: tuple[Encryption, bytes], subclass: int, value: int,
                               issue: tokens.Issue) -> None:
    encryption, key = kc
    digits = tokens.management_token(key, encryption, subclass=subclass, value=value,
                                     issue=issue)
    decoded = tk.decode(digits, key, encryption)
    assert (decoded.token_class, decoded.subclass) == (2, subclass)
    assert (decoded.fields48 >> 16) & 0xFFFFFF == issue.tid()
    field = decoded.fields48 & 0xFFFF
    if subclass in tokens.COUNTED:
        assert amount.count_of(field) == amount.representable(value)
    else:
        assert field == value


@settings(max_examples=40)
@given(keyed(), st.booleans(), st.integers(1, 9), st.integers(0, 3), st.integers(0, 99),
       st.integers(0, 255), st.integers(0, 999_999))
def test_key_change_set_carries_the_new_key(kc: tuple[Encryption, bytes], rollover: bool,
                                           krn: int, kt: int, ti: int, ken: int,
                                           sgc: int) -> None:
    """Decoding a set under the old key gives back the new key, KRN, KT, TI, KEN, RO, SGC."""
    encryption, old = kc
    new = bytes(reversed(old))  # any key of the same size
    change = tokens.KeyChange(new, krn, kt, f"{ti:02d}", ken, rollover, f"{sgc:06d}")
    digits = tokens.key_change_tokens(old, encryption, change)
    assert len(digits) == (4 if len(new) == 16 else 2)
    sections = [tk.decode(d, old, encryption).fields48 for d in digits]
    words = [f & 0xFFFFFFFF for f in sections]
    order = [0, 2, 3, 1] if len(new) == 16 else [0, 1]
    assert b"".join(words[i].to_bytes(4, "big") for i in order) == new
    s1, s2 = (tokens.describe(tk.decode(d, old, encryption), 1993) for d in digits[:2])
    assert (s1["key_revision"], s1["key_type"], s1["rollover"]) == (krn, kt, rollover)
    assert s2["tariff_index"] == f"{ti:02d}"
    assert (s1["kenho"] << 4) | s2["kenlo"] == ken  # type: ignore[operator]
    if len(new) == 16:
        low, high = ((sections[i] >> 32) & 0xFFF for i in (2, 3))
        assert (high << 12) | low == sgc


@given(st.integers(0, 3), st.integers(0, (1 << 48) - 1), st.integers(0, 63))
def test_crc_catches_every_single_bit_error_in_the_block(token_class: int, fields: int,
                                                          bit: int) -> None:
    block = tk.seal(token_class, fields) ^ (1 << bit)
    assert tk.token_crc(token_class, block >> 16) != block & 0xFFFF


def _all_vector_tokens() -> list[tuple[str, bytes, Encryption]]:
    from tests.sts.test_conformance import dk02, dk04

    out = [(t[-1], dk02(t[1]), Encryption.STA) for t in v.CREDIT_STA]
    out += [(t[-1], dk02(), Encryption.STA) for t in v.MANAGEMENT_STA]
    out += [(t[-1], dk04(Encryption.MISTY1, t[2], t[3], t[1]), Encryption.MISTY1)
            for t in v.CREDIT_MISTY1]
    out += [(t[-1], dk02(), Encryption.STA) for t in v.TEST_TOKENS]  # the meter's key
    return out


@pytest.mark.parametrize(("digits", "key", "encryption"), _all_vector_tokens())
def test_every_single_digit_error_is_refused(digits: str, key: bytes,
                                             encryption: Encryption) -> None:
    """Each of the 180 one-digit mistypes of each conformance token is refused: by the CRC,
    or as more than 66 bits. (After decryption a mistyped token is a pseudo-random block,
    which a 16-bit CRC lets through with probability 2**-16: docs/sts.md says so.)"""
    tk.decode(digits, key, encryption)
    for pos in range(20):
        for d in "0123456789":
            if d == digits[pos]:
                continue
            typo = digits[:pos] + d + digits[pos + 1:]
            with pytest.raises(StsError) as refused:
                tk.decode(typo, key, encryption)
            assert isinstance(refused.value, TokenCrcError) or "66 bits" in str(refused.value)


def test_crc16_is_the_catalogued_crc16_modbus() -> None:
    """x^16 + x^15 + x^2 + 1, reflected, preset FFFF, no final XOR: the CRC RevEng
    catalogue's CRC-16/MODBUS, whose check value over "123456789" is 4B37."""
    assert tk.crc16(b"123456789") == 0x4B37
