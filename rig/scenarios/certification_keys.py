"""Certification scenario of the meter key's life: a KEY_CHANGE card moves the meter to the
next key revision, and only a genuine one does.

The cards are the station's, format-neutral: a KEY_CHANGE card signed under a key that is
not the meter's (the next revision's, which the meter does not hold yet) must be refused with
a MAC reason; the genuine one moves the meter on, after which a card keyed for the superseded
revision is refused as not authorised and one keyed for the new revision is accepted. Key
revisions only move on: a real meter is left at the new one (as after the STS key change
scenario), and the record says so.
"""

from __future__ import annotations

from decimal import Decimal

from rig.card_formats.interface import CardKind
from rig.meter.card_errors import CardErrorCode
from rig.scenarios.cert_base import commission, insert_refused, snapshot
from rig.scenarios.steps import BenchSteps


def _issue(s: BenchSteps, kind: CardKind, key_revision: int) -> None:
    """Re-issue the bench's card (same serial) as `kind`, keyed for `key_revision`."""
    with s.bench.card_at_writer() as conn:
        s.station.personalise(conn, card_serial=s.card_serial, meter_no=s.meter_no,
                              key_revision=key_revision, kind=kind)


def _key_change_card(s: BenchSteps, card_revision: int, old: int, new: int) -> None:
    """A KEY_CHANGE card keyed for `card_revision` carrying the change `old` → `new` (signed
    and wrapped under revision `old`'s meter key, as the station makes it)."""
    _issue(s, CardKind.KEY_CHANGE, card_revision)
    with s.bench.card_at_writer() as conn:
        s.station.write_key_change(conn, s.meter_no, old, new)


def key_change_card_moves_the_meter_to_the_next_key_revision(s: BenchSteps) -> None:
    """A key change under a key that is not the meter's is refused and changes nothing; the
    genuine one takes effect: the superseded revision's cards are refused, the new one's
    accepted.

    Certifies IEC 62055-31:2022 5.8.2, Annex A; IEC 62055-41 (rig.scenarios.cert_citations).
    """
    commission(s)
    if s.lacks_kind(CardKind.KEY_CHANGE):
        return
    old = s.bench.profile.card.key_revision
    new = old + 1
    if s.lacks_key_revision(new + 1):  # the forged card below is signed for new + 1
        return
    with s.record.step(f"a purchase under key revision {old}"):
        _, delivery = s.buy(Decimal("10.00"))
        s.record.measure("card accepted", delivery.accepted, equals=True)
        s.settle()
    with s.record.step("a key change card signed under a key that is not the meter's"):
        _key_change_card(s, old, new, new + 1)
        before = snapshot(s)
        delivery = insert_refused(s, CardErrorCode.MAC_ERROR)
        s.record.measure("card refused", delivery.accepted, equals=False)
        s.record.measure("meter display", delivery.meter_message)
        s.record.measure("registers unchanged", snapshot(s) == before, equals=True)
    with s.record.step(f"the genuine key change card: revision {old} to {new}"):
        s.card_to_writer()
        _key_change_card(s, old, old, new)
        before = snapshot(s)
        delivery = s.insert_into_meter(expect_accepted=False)
        s.record.measure("card accepted", delivery.accepted, equals=True,
                         description=delivery.meter_message)
        s.record.measure("registers unchanged", snapshot(s) == before, equals=True)
    with s.record.step(f"a card keyed for the superseded revision {old}"):
        s.card_to_writer()
        _issue(s, CardKind.USER, old)
        before = snapshot(s)
        delivery = insert_refused(s, CardErrorCode.NOT_AUTHORISED)
        s.record.measure("card refused", delivery.accepted, equals=False)
        s.record.measure("registers unchanged", snapshot(s) == before, equals=True)
    with s.record.step(f"a card keyed for the new revision {new}"):
        s.card_to_writer()
        _issue(s, CardKind.CHECK, new)
        delivery = s.insert_into_meter(expect_accepted=False)
        s.record.measure("card accepted", delivery.accepted, equals=True,
                         description=delivery.meter_message)
    with s.record.step("key revision the meter is left at"):
        s.record.measure("meter key revision", new, description="key revisions only move on: "
                         "a real meter stays here, and its registration at the billing centre "
                         "must follow before it sells to it again")
        s.card_to_writer()
