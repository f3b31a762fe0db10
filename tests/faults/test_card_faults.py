"""Card faults against the credit books: tearing anywhere, corrupted EF contents, wrong card
types, and a card pulled out of a real PC/SC reader mid-write. Nothing lost, nothing doubled.

The campaigns are the ones bench/faults.py counts (rig.faults.card_tearing, card_corruption);
here every case must balance, and a meter that forgets its last sequence must be caught.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from rig.card.apdu import CardRemovedError
from rig.card.pcsc import PcscReader
from rig.card.records import CardType
from rig.card_formats.interface import CardKind
from rig.errors import CardError
from rig.faults import card_corruption, card_tearing
from rig.faults.card_world import MASTER, NOW, SERIAL, Ledger, make_world, registers
from rig.profile import load_profile
from rig.sim.emulated_bench import EmulatedBench
from rig.sim.prepaid import PrepaidEngine


def test_tearing_anywhere_loses_and_doubles_no_credit() -> None:
    figures = card_tearing.run_tearing_campaign()
    write, meter = figures["purchase_write"], figures["meter_session"]
    assert write.cases >= 2 * 12 and meter.cases >= 10 + 56  # every boundary, every prefix
    for name, f in figures.items():
        assert (f.lost, f.duplicated, f.unrecovered) == (0, 0, 0), name


def test_tearing_on_a_memory_card_loses_and_doubles_no_credit() -> None:
    """The same campaign through the SLE 4442 format: the writer's purchase block torn after
    every byte (a prefix of its write pseudo-APDU), the meter's chip-bus session at every
    exchange (one byte a write: every byte of its 64-byte readback)."""
    figures = card_tearing.run_tearing_campaign(card_format_name="sle4442")
    write, meter = figures["purchase_write"], figures["meter_session"]
    assert write.cases >= 2 * 31 and meter.cases >= 2 * 64
    for name, f in figures.items():
        assert (f.lost, f.duplicated, f.unrecovered) == (0, 0, 0), name


@pytest.mark.parametrize("fmt", ["rigpp", "sle4442"])
def test_the_tearing_books_see_a_meter_that_applies_a_purchase_twice(
        monkeypatch: pytest.MonkeyPatch, fmt: str) -> None:
    applied = PrepaidEngine.apply_purchase

    def twice(self: PrepaidEngine, sequence: int, units: int, at: datetime) -> None:
        applied(self, sequence, units, at)
        if sequence == 2:  # the purchase whose session is torn
            applied(self, sequence, units, at)

    monkeypatch.setattr(PrepaidEngine, "apply_purchase", twice)
    figures = card_tearing.run_tearing_campaign(stride=9, card_format_name=fmt)
    assert figures["meter_session"].duplicated == figures["meter_session"].cases


@pytest.mark.parametrize(("fmt", "least"), [("rigpp", 250), ("sle4442", 200)])
def test_corrupted_card_contents_are_refused_or_applied_exactly_once(fmt: str,
                                                                     least: int) -> None:
    """Every 7th bit of RIGPP's four EFs / an SLE 4442's identity, purchase and readbacks."""
    figures = card_corruption.run_corruption_campaign(stride=7, card_format_name=fmt)
    assert figures.cases > least
    assert (figures.lost, figures.duplicated, figures.unrecovered) == (0, 0, 0)


@pytest.mark.parametrize("card_type", [CardType.CHECK, CardType.PARAMETER, CardType.CLEAR,
                                       CardType.KEY_CHANGE])
def test_wrong_card_type_gets_no_credit_anywhere(card_type: CardType) -> None:
    w = make_world(personalise=False)
    w.station.personalise(w.slot(), card_serial=SERIAL, meter_no=w.meter_no, key_revision=1,
                          kind=CardKind[card_type.name])
    vend = w.vend(1, 2500)
    with pytest.raises(CardError, match=f"is a {card_type.name} card.*needs a USER card"):
        w.station.write_vend(w.slot(), vend)
    assert w.ledger.written == []  # the billing centre is not told it was written
    before = registers(w.engine)
    outcome = w.terminal.insert(w.slot(), NOW)
    assert outcome.applied_sequence is None
    assert registers(w.engine)[4:7] == before[4:7]  # purchase count, sequence, cumulative


class PullAt:
    """A PC/SC connection whose card the courier pulls out just before APDU `cut`."""

    def __init__(self, conn: object, cut: int, sim: EmulatedBench) -> None:
        self.conn, self.cut, self.sim, self.count = conn, cut, sim, 0

    def transmit_named(self, apdu: bytes, name: str) -> bytes:
        if self.count == self.cut:
            self.sim.move_card("hand")
        self.count += 1
        return self.conn.transmit_named(apdu, name)  # type: ignore[attr-defined, no-any-return]

    def transmit(self, apdu: bytes) -> bytes:
        return self.transmit_named(apdu, "APDU")


@pytest.mark.bench
@pytest.mark.parametrize("cut", [5, 13], ids=["during-authentication", "during-purchase-write"])
def test_card_pulled_from_a_real_reader_mid_write(cut: int) -> None:
    """Through pcscd and vpcd: a clear error naming reader and APDU, the vend not marked
    written; the rewrite after reinsertion is applied once by the meter."""
    profile = load_profile()
    world = make_world(personalise=False)  # for its vend records only
    vend = world.vend(1, 2500)
    ledger = Ledger()
    station = world.station
    station.billing = ledger
    with EmulatedBench(profile, time_scale=3600.0, master_key=MASTER) as sim:
        assert sim.parts is not None
        reader = PcscReader(sim.parts.card_reader)
        with reader.wait_for_card(10) as conn:
            station.personalise(conn, card_serial=SERIAL, meter_no=sim.meter.meter_no,
                                key_revision=profile.card.key_revision)
        with reader.wait_for_card(10) as conn, pytest.raises(CardRemovedError) as err:
            station.write_vend(PullAt(conn, cut, sim), vend)
        assert sim.parts.card_reader in str(err.value)
        assert "card removed during" in str(err.value)
        assert ledger.written == []
        sim.move_card("writer")
        with reader.wait_for_card(10) as conn:
            station.write_vend(conn, vend)
        assert ledger.written == [vend.vend_id]
        for _ in range(2):  # inserted twice: applied once
            sim.move_card("meter")
        engine = sim.world.engine
        assert engine.cumulative_purchase == Decimal("25.00")
        assert engine.purchase_count == 1
