"""Property: whatever a refused or no-op card carries — another meter's card, a replayed
purchase, a forged or damaged MAC, the wrong card type, a hoarding breach — no engine register
changes, and the meter says why, in words and as its card error code."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rig.card.application import FID_CARD_INFO, FID_PURCHASE, FID_TARIFF
from rig.card.keys import derive_meter_key
from rig.card.records import CardInfo, CardType, CreditUnit, PurchaseRecord, TariffRecord
from rig.faults.card_world import MASTER, NOW, SERIAL, make_world, registers
from rig.meter.card_errors import CardErrorCode

OTHER_METER = "000000009999"
E = CardErrorCode
CODES = {  # a bit flip may also break the record's encoding: a file format error
    "other_meter_card": {E.METER_NUMBER_MISMATCH},
    "forged_purchase": {E.MAC_ERROR, E.CARD_FILE_FORMAT_ERROR},
    "forged_tariff": {E.MAC_ERROR, E.CARD_FILE_FORMAT_ERROR},
    "foreign_purchase": {E.MAC_ERROR},
    "wrong_type": {E.CARD_FILE_FORMAT_ERROR},  # a command card without its record
    "hoarding": {E.HOARDING_LIMIT_EXCEEDED},
    "other_unit": {E.CARD_TYPE_ERROR},
}

scenarios = st.sampled_from(
    ["other_meter_card", "replayed", "forged_purchase", "forged_tariff", "foreign_purchase",
     "wrong_type", "hoarding", "other_unit"])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios,
       history=st.lists(st.integers(1, 20000), min_size=1, max_size=3),
       credit=st.integers(1, 50000),
       flip=st.tuples(st.integers(0, 28), st.integers(0, 7)),
       wrong_type=st.sampled_from([CardType.CHECK, CardType.PARAMETER, CardType.CLEAR,
                                   CardType.KEY_CHANGE]))
def test_refused_cards_change_no_register(scenario: str, history: list[int], credit: int,
                                          flip: tuple[int, int],
                                          wrong_type: CardType) -> None:
    w = make_world()
    for seq, c in enumerate(history, 1):  # a meter with some purchase history
        w.station.write_vend(w.slot(), w.vend(seq, c, tariff_version=seq))
        assert w.terminal.insert(w.slot(), NOW).applied_sequence == seq
    last = len(history)
    key = w.meter_key()
    card = w.card
    purchase = PurchaseRecord(w.meter_no, last + 1, credit, CreditUnit.MONEY_CENTS, last + 1, 1)
    tariff = TariffRecord(w.meter_no, last + 1, Decimal("0.7777"), 0, 0)
    expect = ""
    if scenario == "other_meter_card":
        info = CardInfo(CardType.USER, SERIAL, OTHER_METER, 1, 1)
        card.write_ef(FID_CARD_INFO, info.to_bytes())
        other = derive_meter_key(MASTER, OTHER_METER, 1)
        card.write_ef(FID_PURCHASE, PurchaseRecord(OTHER_METER, last + 1, credit,
                                                   CreditUnit.MONEY_CENTS, 1, 1)
                      .sign(other).to_bytes())
        expect = f"card is for meter {OTHER_METER}"
    elif scenario == "replayed":
        card.write_ef(FID_PURCHASE, PurchaseRecord(w.meter_no, last, credit,
                                                   CreditUnit.MONEY_CENTS, 1, 1)
                      .sign(key).to_bytes())
        expect = f"purchase {last} already applied"
    elif scenario in ("forged_purchase", "forged_tariff"):
        rec = purchase if scenario == "forged_purchase" else tariff
        raw = bytearray(rec.sign(key).to_bytes())
        pos = flip[0] % len(raw)
        raw[pos] ^= 1 << flip[1]
        card.write_ef(FID_PURCHASE if scenario == "forged_purchase" else FID_TARIFF, bytes(raw))
    elif scenario == "foreign_purchase":  # another meter's valid purchase on this meter's card
        other = derive_meter_key(MASTER, OTHER_METER, 1)
        card.write_ef(FID_PURCHASE, PurchaseRecord(OTHER_METER, last + 1, credit,
                                                   CreditUnit.MONEY_CENTS, 1, 1)
                      .sign(other).to_bytes())
        expect = "MAC invalid"
    elif scenario == "wrong_type":  # a valid purchase on a card that may not carry credit
        card.write_ef(FID_PURCHASE, purchase.sign(key).to_bytes())
        info = CardInfo(wrong_type, SERIAL, w.meter_no, 1, 1)
        card.write_ef(FID_CARD_INFO, info.to_bytes())
    elif scenario == "hoarding":
        limit_units = w.engine.units(w.engine.profile.thresholds.hoarding_limit)
        big = limit_units - w.engine.units(w.engine.credit) + credit
        card.write_ef(FID_PURCHASE, PurchaseRecord(w.meter_no, last + 1, big,
                                                   CreditUnit.MONEY_CENTS, 1, 1)
                      .sign(key).to_bytes())
        expect = "hoarding limit exceeded"
    elif scenario == "other_unit":
        card.write_ef(FID_PURCHASE, PurchaseRecord(w.meter_no, last + 1, credit,
                                                   CreditUnit.ENERGY_WH, 1, 1)
                      .sign(key).to_bytes())
        expect = "credit unit does not match"

    before = registers(w.engine)
    outcome = w.terminal.insert(w.slot(), NOW)
    assert registers(w.engine) == before, (scenario, outcome.message)
    assert outcome.applied_sequence is None
    assert outcome.message
    if expect:
        assert expect in outcome.message
    if scenario not in ("replayed", "wrong_type"):
        assert not outcome.accepted
    if outcome.accepted:
        assert outcome.refusal is None
    else:  # the reason code the abnormal card insertion record will show
        assert outcome.refusal is not None
        assert outcome.refusal.code in CODES[scenario], (scenario, outcome.message)
        assert outcome.refusal.card_serial == SERIAL
