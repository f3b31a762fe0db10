"""Each way the meter's card terminal refuses a card names its State Grid card error code, with
the card serial and, when a card command failed, that command's header and status word: what
the meter's abnormal card insertion record shows over DL/T 645."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from rig.card.application import FID_CARD_INFO, FID_PURCHASE
from rig.card.records import CardInfo, CardType, CreditUnit, PurchaseRecord
from rig.card.session import DirectTransport
from rig.card_formats.interface import CardRefusal
from rig.card_formats.rigpp.meter import NO_HEADER, NO_SERIAL
from rig.faults.card_tearing import TearingTransport
from rig.faults.card_world import NOW, OTHER_MASTER, SERIAL, World, make_world, registers
from rig.meter.card_errors import ILLEGAL, CardErrorCode

OTHER_METER = "000000009999"
E = CardErrorCode


class ForeignCard:
    """A card of another system: it has no RIGPP application and answers 6A82 to SELECT."""

    name = "foreign"

    def transmit(self, apdu: bytes) -> bytes:
        return b"\x6a\x82"


def _other_meter(w: World) -> None:
    w.card.write_ef(FID_CARD_INFO, CardInfo(CardType.USER, SERIAL, OTHER_METER, 1, 1).to_bytes())


def _key_revision(w: World) -> None:
    w.card.write_ef(FID_CARD_INFO, CardInfo(CardType.USER, SERIAL, w.meter_no, 2, 1).to_bytes())


def _forged(w: World) -> None:
    signed = PurchaseRecord(w.meter_no, 1, 500, CreditUnit.MONEY_CENTS, 1, 1).sign(w.meter_key())
    w.card.write_ef(FID_PURCHASE, signed.to_bytes()[:-1] + b"\x00")  # MAC's last byte lost


def _damaged(w: World) -> None:
    w.card.write_ef(FID_PURCHASE, b"\xff" * PurchaseRecord.SIZE)


def _hoarding(w: World) -> None:
    w.station.write_vend(w.slot(), w.vend(1, 99_999_999))


def _other_unit(w: World) -> None:
    signed = PurchaseRecord(w.meter_no, 1, 500, CreditUnit.ENERGY_WH, 1, 1).sign(w.meter_key())
    w.card.write_ef(FID_PURCHASE, signed.to_bytes())


CASES: dict[str, tuple[Callable[[World], None], CardErrorCode]] = {
    "card of another meter": (_other_meter, E.METER_NUMBER_MISMATCH),
    "card keyed for another key revision": (_key_revision, E.NOT_AUTHORISED),
    "purchase with a broken MAC": (_forged, E.MAC_ERROR),
    "purchase record that does not decode": (_damaged, E.CARD_FILE_FORMAT_ERROR),
    "purchase beyond the hoarding limit": (_hoarding, E.HOARDING_LIMIT_EXCEEDED),
    "purchase in the other credit unit": (_other_unit, E.CARD_TYPE_ERROR),
}


@pytest.mark.parametrize("case", list(CASES))
def test_meter_check_refusals_name_their_code_and_the_card(case: str) -> None:
    w = make_world()
    prepare, code = CASES[case]
    prepare(w)
    before = registers(w.engine)
    outcome = w.terminal.insert(w.slot(), NOW)
    assert not outcome.accepted and registers(w.engine) == before
    assert outcome.refusal == CardRefusal(code, SERIAL, NO_HEADER, 0), outcome.message
    assert outcome.to_dict()["refusal_code"] == int(code)


def test_failed_authentication_keeps_the_command_header_and_status_word() -> None:
    # The card was issued under another master key: the meter's readback-key cryptogram fails.
    w = make_world(master=OTHER_MASTER)
    outcome = w.terminal.insert(w.slot(), NOW)
    assert outcome.refusal == CardRefusal(
        E.EXTERNAL_AUTHENTICATION_ERROR, SERIAL,
        bytes.fromhex("00 82 00 02 08"),  # EXTERNAL AUTHENTICATE, key 02, Lc 8
        0x63C2)  # wrong cryptogram, 2 tries left
    assert "card authentication failed" in outcome.message


def test_card_without_the_application_is_a_card_type_error() -> None:
    outcome = make_world().terminal.insert(ForeignCard(), NOW)
    assert outcome.refusal == CardRefusal(E.CARD_TYPE_ERROR, NO_SERIAL,
                                          bytes.fromhex("00 A4 04 00 07"), 0x6A82)


def test_unissued_card_and_pulled_card() -> None:
    blank = make_world(personalise=False)
    outcome = blank.terminal.insert(blank.slot(), NOW)
    assert outcome.refusal == CardRefusal(E.CARD_NOT_ISSUED)
    assert "card not issued" in outcome.message
    w = make_world()
    w.card.reset()
    pulled = w.terminal.insert(TearingTransport(w.card, 3, "before"), NOW)  # after CARD_INFO
    assert pulled.refusal == CardRefusal(E.CARD_PULLED_EARLY, SERIAL)


def test_accepted_and_replayed_cards_carry_no_refusal() -> None:
    w = make_world()
    w.station.write_vend(w.slot(), w.vend(1, 500))
    assert w.terminal.insert(w.slot(), NOW).refusal is None
    replay = w.terminal.insert(DirectTransport(w.card), NOW)  # same purchase again
    assert replay.accepted and replay.refusal is None


def test_illegal_insertions_are_the_authentication_failures() -> None:
    assert {E.MAC_ERROR, E.AUTHENTICATION_ERROR, E.EXTERNAL_AUTHENTICATION_ERROR,
            E.NOT_AUTHORISED, E.CARD_RESET_ERROR} == ILLEGAL
    assert E.METER_NUMBER_MISMATCH not in ILLEGAL and E.HOARDING_LIMIT_EXCEEDED not in ILLEGAL
