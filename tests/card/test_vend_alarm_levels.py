"""Alarm levels the billing centre queued travel on the user card's tariff record and reach the
meter with the purchase beside them — once, and never at the cost of the credit."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from rig.card.session import CardSession
from rig.faults.card_world import NOW, World, make_world


def sell(w: World, sequence: int, levels: dict[str, int] | None) -> None:
    vend = replace(w.vend(sequence, credit=5000), parameters=levels)
    w.station.write_vend(w.slot(), vend)


def test_queued_levels_are_written_on_the_tariff_record_and_applied_with_the_purchase(
        ) -> None:
    w = make_world()
    sell(w, 1, {"alarm1": 2500, "alarm2": 900})
    tariff = CardSession(w.slot()).read_tariff()
    assert tariff is not None and (tariff.alarm1, tariff.alarm2) == (2500, 900)
    out = w.terminal.insert(w.slot(), NOW)
    assert out.accepted and out.applied_sequence == 1
    assert "alarm levels of the vend applied" in out.message
    t = w.engine.profile.thresholds  # the card's credit units (cents) in the meter's unit
    assert (t.alarm1, t.alarm2) == (Decimal("25.00"), Decimal("9.00"))


def test_a_vend_without_queued_levels_leaves_the_meters_levels() -> None:
    w = make_world()
    before = w.engine.profile.thresholds
    sell(w, 1, None)
    tariff = CardSession(w.slot()).read_tariff()
    assert tariff is not None and (tariff.alarm1, tariff.alarm2) == (0, 0)
    out = w.terminal.insert(w.slot(), NOW)
    assert out.accepted and "alarm levels" not in out.message
    assert w.engine.profile.thresholds == before


def test_an_old_card_inserted_again_does_not_undo_a_later_change() -> None:
    w = make_world()
    sell(w, 1, {"alarm1": 2500, "alarm2": 900})
    w.terminal.insert(w.slot(), NOW)
    w.engine.set_thresholds(alarm1=Decimal("30.00"), alarm2=Decimal("12.00"))  # e.g. a
    again = w.terminal.insert(w.slot(), NOW)                                    # parameter card
    assert "purchase 1 already applied" in again.message
    t = w.engine.profile.thresholds
    assert (t.alarm1, t.alarm2) == (Decimal("30.00"), Decimal("12.00"))


def test_levels_the_meter_refuses_are_skipped_and_the_credit_still_applied() -> None:
    w = make_world()
    before = w.engine.profile.thresholds
    credit = w.engine.credit
    too_high = int(before.alarm1 * 100) + 1  # alarm 2 alone, above the meter's alarm 1
    sell(w, 1, {"alarm2": too_high})
    out = w.terminal.insert(w.slot(), NOW)
    assert out.accepted and out.applied_sequence == 1
    assert "alarm levels of the vend not applied" in out.message
    assert w.engine.profile.thresholds == before
    assert w.engine.credit == credit + Decimal("50.00")
