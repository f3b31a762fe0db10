"""The emulated meter's STS keypad with the published tokens: accepted once (USED after), OLD
below a full TID memory, another meter's token refused, the power limit set, a key change
then a token under the new key, and the 2014 roll-over — credit in the real prepaid engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from rig.profile import load_profile
from rig.sim.prepaid import PrepaidEngine
from rig.sim.sts_keypad import TID_MEMORY, StsKeypad, TokenResult, engine_effects
from rig.sts import tokens
from rig.sts.keys import Encryption
from tests.sts import vectors as v
from tests.sts.test_conformance import dk02, dk04

STA = Encryption.STA
NOW = datetime(2004, 5, 1, tzinfo=UTC)


def meter(key: bytes | None = None, profile: str = "iec62056-1p-energy",
          encryption: Encryption = STA) -> tuple[StsKeypad, PrepaidEngine]:
    engine = PrepaidEngine(load_profile(profile))
    return StsKeypad(key or dk02(), encryption, engine_effects(engine)), engine


def credit(key: bytes, when: datetime, kwh: str, base: int = 1993) -> str:
    return tokens.credit_token(key, STA, subclass=0, amount=Decimal(kwh),
                               issue=tokens.Issue(when, base, 3))


def test_credit_token_is_added_exactly_once() -> None:
    keypad, engine = meter()
    token = v.CREDIT_STA[0][-1]  # 0.1 kWh, CTSA01
    first = keypad.enter(token, NOW)
    assert first.result is TokenResult.ACCEPT and first.credit == Decimal("0.1")
    assert engine.remaining == Decimal("0.1") and engine.cumulative_purchase == Decimal("0.1")
    again = keypad.enter(token, NOW)
    assert again.result is TokenResult.USED and not again.accepted
    assert engine.remaining == Decimal("0.1") and engine.purchase_count == 1


def test_old_token_below_a_full_tid_memory_is_refused() -> None:
    keypad, engine = meter()
    early = credit(dk02(), datetime(2004, 1, 1, tzinfo=UTC), "1")
    for n in range(TID_MEMORY):
        when = datetime(2004, 2, 1, tzinfo=UTC) + timedelta(minutes=n)
        assert keypad.enter(credit(dk02(), when, "1"), NOW).result is TokenResult.ACCEPT
    before = engine.remaining
    assert keypad.enter(early, NOW).result is TokenResult.OLD
    assert engine.remaining == before == Decimal(TID_MEMORY)


def test_older_token_is_accepted_while_the_memory_has_room() -> None:
    keypad, _ = meter()
    assert keypad.enter(credit(dk02(), datetime(2004, 2, 1, tzinfo=UTC), "1"),
                        NOW).accepted
    assert keypad.enter(credit(dk02(), datetime(2004, 1, 1, tzinfo=UTC), "1"),
                        NOW).accepted


def test_token_for_another_meter_is_a_crc_error_and_adds_nothing() -> None:
    keypad, engine = meter()
    other = v.CREDIT_STA[1][-1]  # CTSA01 step 2: PAN 000001000000000082
    result = keypad.enter(other, NOW)
    assert result.result is TokenResult.CRC and result.result.value == "CRC Err"
    assert engine.remaining == 0 and not keypad.tids


def test_power_limit_token_sets_the_meters_limit() -> None:
    keypad, engine = meter()
    token = v.MANAGEMENT_STA[0][-1]  # CTSA03: 1000 W
    assert keypad.enter(token, NOW).result is TokenResult.ACCEPT
    assert engine.profile.power_limit is not None
    assert engine.profile.power_limit.max_power_w == Decimal(1000)
    assert keypad.enter(token, NOW).result is TokenResult.USED


def test_key_change_then_a_token_under_the_new_key() -> None:
    keypad, engine = meter(dk02(ti="01"))
    _, _, _, (first, second) = v.KEY_CHANGE_DKGA02_STA[0]  # TI 01 -> 02
    new_key_token = credit(dk02(ti="02"), datetime(2004, 4, 2, tzinfo=UTC), "2.5")
    assert keypad.enter(new_key_token, NOW).result is TokenResult.CRC  # not yet
    assert keypad.enter(first, NOW).result is TokenResult.KCT_1
    assert keypad.enter(second, NOW).result is TokenResult.ACCEPT
    assert keypad.decoder_key == dk02(ti="02") and keypad.tariff_index == "02"
    assert keypad.enter(new_key_token, NOW).result is TokenResult.ACCEPT
    assert engine.remaining == Decimal("2.5")
    old_key_token = credit(dk02(ti="01"), datetime(2004, 4, 3, tzinfo=UTC), "1")
    assert keypad.enter(old_key_token, NOW).result is TokenResult.CRC


def test_rollover_key_change_moves_to_the_next_base_date_and_clears_the_tid_memory() -> None:
    keypad, engine = meter(dk04(STA, 2014, 4))
    keypad.base_year = 2014
    assert keypad.enter(credit(dk04(STA, 2014, 4), datetime(2030, 1, 1, tzinfo=UTC), "1",
                               2014), NOW).accepted
    _, (first, second) = v.KEY_CHANGE_ROLLOVER_STA  # CTSA26: to 2035, KRN 5, RO set
    assert keypad.enter(first, NOW).result is TokenResult.KCT_1
    assert keypad.enter(second, NOW).result is TokenResult.ACCEPT
    assert (keypad.base_year, keypad.key_revision, len(keypad.tids)) == (2035, 5, 0)
    token = v.CREDIT_DKGA04_STA[2][-1]  # CTSA25 step 9: base date 2035, KRN 5
    result = keypad.enter(token, NOW)
    assert result.result is TokenResult.ACCEPT and result.credit == Decimal("0.1")
    assert engine.remaining == Decimal("1.1")


def test_misty1_meter_needs_all_four_sections() -> None:
    keypad, _ = meter(dk04(Encryption.MISTY1), encryption=Encryption.MISTY1)
    _, sections = v.KEY_CHANGE_MISTY1
    shown = [keypad.enter(s, NOW).result for s in sections]
    assert shown == [TokenResult.KCT_1, TokenResult.KCT_2, TokenResult.KCT_3,
                     TokenResult.ACCEPT]
    assert keypad.decoder_key == dk04(Encryption.MISTY1, ti="02")


def test_refusals_change_nothing() -> None:
    keypad, engine = meter(profile="dlt645-1p-money")  # a money meter takes currency tokens
    kwh = credit(dk02(), datetime(2004, 2, 1, tzinfo=UTC), "1")
    assert keypad.enter(kwh, NOW).result is TokenResult.FUNCTION
    assert keypad.enter("1234", NOW).result is TokenResult.FORMAT
    def money(amount: str, minute: int) -> str:
        when = datetime(2004, 2, 2, tzinfo=UTC) + timedelta(minutes=minute)
        return tokens.credit_token(dk02(), STA, subclass=4, amount=Decimal(amount),
                                   issue=tokens.Issue(when, 1993, 1))

    # 20.00 is 2 000 000 steps of 0.00001: the field carries 2 000 624 (20.00624), which a
    # meter keeping whole cents cannot take exactly: Range, nothing added, TID not kept
    assert keypad.enter(money("20.00", 0), NOW).result is TokenResult.RANGE
    assert engine.remaining == 0 and not keypad.tids
    assert keypad.enter(money("0.15", 1), NOW).credit == Decimal("0.15")  # exact below 0.16384
    assert engine.remaining == Decimal("0.15") and len(keypad.tids) == 1
