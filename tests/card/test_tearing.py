"""Card tearing: the card is pulled before, in the middle of, or just after any APDU of the
station's purchase write and of the meter's apply-and-readback session. After every tear a
normal insertion must recover with no credit lost, none applied twice and a readback that
matches the meter."""

from __future__ import annotations

from decimal import Decimal

import pytest

from rig.card.records import ReadbackRecord
from rig.card.session import CardSession
from rig.errors import CardError
from rig.faults.card_tearing import (
    C1,
    C2,
    C3,
    TearingTransport,
    meter_session_apdus,
    prepared,
    station_write_apdus,
    tear_points,
)
from rig.faults.card_world import NOW, World, registers

STATION_TEARS = list(tear_points(station_write_apdus()))
METER_TEARS = list(tear_points(meter_session_apdus()))


def assert_settled(w: World, credits: int, last: int) -> None:
    """The meter applied exactly ``credits`` over sequences 1..``last`` and the card's newest
    verified readback says the same."""
    e = w.engine
    assert e.cumulative_purchase == Decimal(credits) / 100
    assert e.purchase_count == last and e.last_sequence == last
    rb = verified_readback(w)
    assert (rb.last_sequence, rb.purchase_count, rb.cumulative_purchase) == (last, last, credits)
    assert rb.remaining == e.units(e.remaining)


def verified_readback(w: World) -> ReadbackRecord:
    """The card's newest readback whose MAC verifies, as the billing centre finds it."""
    session = CardSession(w.slot())
    session.select_application()
    rb = session.read_readback(w.readback_mac_key())
    assert rb is not None
    return rb


def test_tear_lists_cover_whole_sessions() -> None:
    # the station authenticates, checks the card and writes tariff + purchase; the meter
    # reads, authenticates with its readback key and writes one readback slot
    assert sum(1 for _, m in STATION_TEARS if m == "before") >= 12
    assert sum(1 for _, m in METER_TEARS if m == "before") >= 10
    assert sum(1 for _, m in METER_TEARS if isinstance(m, int)) == 56  # a 57-byte readback


@pytest.mark.parametrize("meter_first", [False, True], ids=["retry", "meter-first"])
def test_station_write_torn_anywhere(meter_first: bool) -> None:
    for cut, mode in STATION_TEARS:
        w = prepared()
        w.card.reset()
        with pytest.raises(CardError):
            w.station.write_vend(TearingTransport(w.card, cut, mode), w.vend(2, C2, 2))
        assert w.ledger.written == [1], (cut, mode)  # a torn write is never reported written
        if meter_first:  # the customer takes the torn card to the meter anyway
            before = registers(w.engine)
            outcome = w.terminal.insert(w.slot(), NOW)
            if outcome.applied_sequence is None:
                assert w.engine.cumulative_purchase == Decimal(C1) / 100, (cut, mode)
                if not outcome.accepted:
                    assert registers(w.engine) == before, (cut, mode, outcome.message)
        w.station.write_vend(w.slot(), w.vend(2, C2, 2))  # the billing centre retries
        assert w.ledger.written == [1, 2]
        w.terminal.insert(w.slot(), NOW)
        assert_settled(w, C1 + C2, 2)
        assert w.engine.tariff_version == 2


def test_meter_session_torn_anywhere() -> None:
    for cut, mode in METER_TEARS:
        w = prepared()
        w.station.write_vend(w.slot(), w.vend(2, C2))
        w.card.reset()
        outcome = w.terminal.insert(TearingTransport(w.card, cut, mode), NOW)
        applied = w.engine.last_sequence == 2
        assert outcome.applied_sequence == (2 if applied else None), (cut, mode)
        assert w.engine.cumulative_purchase == Decimal(C1 + (C2 if applied else 0)) / 100
        # the previous readback (or the new one) is always there and verifies
        rb = verified_readback(w)
        assert rb.last_sequence in (1, 2), (cut, mode)
        if rb.last_sequence == 2:
            assert applied
        # the station, which cannot verify readbacks, reads the newest decodable slot: it
        # never shows a purchase applied that the meter did not apply
        seen = ReadbackRecord.from_bytes(w.station.read_readback(w.slot()).raw)
        assert seen.last_sequence in (1, 2), (cut, mode)
        if seen.last_sequence == 2:
            assert applied, (cut, mode)
        # a new purchase must wait while the card's readback does not show purchase 2 applied
        if seen.last_sequence == 1:
            with pytest.raises(CardError, match="not applied yet"):
                w.station.write_vend(w.slot(), w.vend(3, C3))
        # the next complete insertion recovers: purchase 2 applied exactly once
        again = w.terminal.insert(w.slot(), NOW)
        assert again.accepted, (cut, mode, again.message)
        assert again.applied_sequence == (None if applied else 2), (cut, mode)
        assert_settled(w, C1 + C2, 2)
        w.station.write_vend(w.slot(), w.vend(3, C3))
        w.terminal.insert(w.slot(), NOW)
        assert_settled(w, C1 + C2 + C3, 3)


def test_readback_slots_alternate_and_torn_slot_is_skipped() -> None:
    w = prepared()
    for _ in range(3):
        w.terminal.insert(w.slot(), NOW)
    s = CardSession(w.slot())
    slots = s.readback_slots(w.readback_mac_key())
    assert sorted(r.readback_no for r in slots if r) == [3, 4]
    newest = s.read_readback(w.readback_mac_key())
    assert newest is not None and newest.readback_no == 4
