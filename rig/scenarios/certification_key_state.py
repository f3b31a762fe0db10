"""Certification scenario of an ESAM meter's two key states: the public (test) keys a meter
leaves the factory with and the utility's private ones, and the key update between them.

Requirement (issue 25, "Key states"; Q/GDW 1354-2013 Annex C, the cost-control flow, and the
State Grid ESAM key-update commands of the DL/T 645 extension, docs/esam.md): a card or a
command made under one key state is refused by a meter in the other; a key update — the
station's key-update card, or remotely the DL/T 645 key-update command (070301FF) — moves the
meter from the public state to the private one, and only one made under the meter's own
master key does. A refusal changes nothing.

On a card format without two key states (RIGPP's numbered key revisions, SLE 4442's no keys)
it is recorded not applicable, as ``lacks_kind`` records a missing card kind; RIGPP's key
change is certified by certification_keys. Under remote delivery the same requirement runs
over DL/T 645 (its SERR bits: 3 identity authentication, 2 ESAM verification).

The cards are the station's: a purchase card "keyed for" a state is the bench's card re-issued
with that state's keys and the same vend written on it, as an office whose encryption machine
is in that state would make it. A meter commissioned private is first moved back to the public
state by a key-update card (the office restores the test keys), so every meter is judged on the
same path and is left in its commissioned private state.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from rig.billing.types import VendResult
from rig.card_formats.interface import CardKind, key_revisions
from rig.esam.keys import KeyState
from rig.meter.card_errors import CardErrorCode
from rig.meter.dlt645 import security as sec
from rig.meter.dlt645.client import SecurityRefused
from rig.scenarios.cert_base import commission, insert_refused, snapshot
from rig.scenarios.remote_steps import RemoteSteps
from rig.scenarios.steps import BenchSteps

PUBLIC, PRIVATE = 0, 1  # a two-state format's key revisions (docs/card-formats/esam-cpu.md)
CREDIT = Decimal("10.00")


def _name(revision: int) -> str:
    return "public" if revision == PUBLIC else "private"


# -- the card medium ---------------------------------------------------------------------
def _issue(s: BenchSteps, kind: CardKind, revision: int) -> None:
    """Re-issue the bench's card (same serial, same meter) as ``kind`` keyed for ``revision``
    (a card re-issued for its own meter keeps its files)."""
    with s.bench.card_at_writer() as conn:
        s.station.personalise(conn, card_serial=s.card_serial, meter_no=s.meter_no,
                              key_revision=revision, kind=kind)


def _purchase_card(s: BenchSteps, vend: VendResult, revision: int) -> None:
    """The card keyed for ``revision`` carrying ``vend`` (written under that state's keys)."""
    _issue(s, CardKind.USER, revision)
    s.write_vend(replace(vend, key_revision=revision))


def _key_update_card(s: BenchSteps, card: int, old: int, new: int) -> None:
    """A key-update card keyed for ``card`` carrying every key of state ``new`` sealed under
    the meter's master-control key of state ``old`` (the station's card when old = card)."""
    _issue(s, CardKind.KEY_CHANGE, old)
    with s.bench.card_at_writer() as conn:
        s.station.write_key_change(conn, s.meter_no, old, new)
    if card != old:
        _issue(s, CardKind.KEY_CHANGE, card)


def _accepted(s: BenchSteps, what: str, *, unchanged: bool = True) -> None:
    before = snapshot(s)
    delivery = s.insert_into_meter(expect_accepted=False)
    s.record.measure(f"{what} accepted", delivery.accepted, equals=True,
                     description=delivery.meter_message)
    if unchanged:
        s.record.measure("registers unchanged", snapshot(s) == before, equals=True)
    s.card_to_writer()


def _refused(s: BenchSteps, reason: CardErrorCode) -> None:
    before = snapshot(s)
    delivery = insert_refused(s, reason)
    s.record.measure("card refused", delivery.accepted, equals=False,
                     description=delivery.meter_message)
    s.record.measure("registers unchanged", snapshot(s) == before, equals=True)
    s.card_to_writer()


def credited(s: BenchSteps, vend: VendResult) -> None:
    """Insert the card carrying ``vend`` (or deliver it): accepted, ``vend`` applied, the
    remaining credit raised by exactly its credit."""
    before = s.meter.remaining()
    delivery = s.insert_into_meter(expect_accepted=False)
    s.record.measure("card accepted", delivery.accepted, equals=True,
                     description=delivery.meter_message)
    s.record.measure("applied sequence", delivery.applied_sequence, equals=vend.sequence)
    s.record.measure("remaining credit", s.meter.remaining(), s.unit,
                     equals=before + s.credit_of(vend))
    s.card_to_writer()


def _collect(s: BenchSteps, revision: int, registered: int) -> None:
    """A check card keyed for ``revision``, accepted: the meter is in that state; its
    readback uploaded where the centre can verify it (the meter's readback MAC follows its
    key state, the centre's registration the commissioned one)."""
    _issue(s, CardKind.CHECK, revision)
    _accepted(s, f"a {_name(revision)}-state check card")
    if revision == registered:
        s.upload_readback()


def _card_purchase(s: BenchSteps, state: int) -> None:
    """A sale for a meter in ``state``: its card keyed for the other state refused with the
    key-state error, changing nothing; the same purchase keyed for ``state`` credited."""
    other = PRIVATE if state == PUBLIC else PUBLIC
    vend = s.vend(CREDIT)
    with s.record.step(f"a meter in the {_name(state)} state refuses a {_name(other)}-state "
                       "purchase card"):
        _purchase_card(s, vend, other)
        _refused(s, CardErrorCode.NOT_AUTHORISED)
    with s.record.step(f"a meter in the {_name(state)} state accepts a {_name(state)}-state "
                       "purchase card"):
        _purchase_card(s, vend, state)
        credited(s, vend)


def _by_card(s: BenchSteps) -> None:
    registered = s.bench.profile.card.key_revision
    if registered != PUBLIC:
        with s.record.step("the office's key-update card restores the public (test) keys"):
            _key_update_card(s, PRIVATE, PRIVATE, PUBLIC)
            _accepted(s, "key-update card")
    _card_purchase(s, PUBLIC)
    with s.record.step("a forged key-update card (keys sealed under a key that is not the "
                       "meter's) is refused"):
        _key_update_card(s, PUBLIC, PRIVATE, PRIVATE)
        _refused(s, CardErrorCode.ESAM_ERROR)
        _collect(s, PUBLIC, registered)
    with s.record.step("the station's key-update card moves the meter to the private state"):
        _key_update_card(s, PUBLIC, PUBLIC, PRIVATE)
        _accepted(s, "key-update card")
        _collect(s, PRIVATE, registered)
    _card_purchase(s, PRIVATE)
    _left_private(s, registered == PRIVATE, _name(registered))


# -- remote delivery ---------------------------------------------------------------------
def _remote_refused(s: RemoteSteps, serr: int, state: KeyState) -> None:
    """The pending purchase sent under the office's keys of ``state``: refused with ``serr``
    and nothing changed."""
    d, own = s.delivery, s.delivery.key_state
    before, count = snapshot(s), len(s.refusals)
    d.key_state = state
    try:
        delivery = s.insert_into_meter(expect_accepted=False)
    finally:
        d.key_state = own
    s.record.measure("recharge refused", delivery.accepted, equals=False,
                     description=delivery.meter_message)
    answered = s.refusals[-1].reasons if len(s.refusals) > count else "no refusal"
    s.record.measure("meter's answer (SERR)", answered, equals=", ".join(sec.decode_serr(serr)))
    s.record.measure("registers unchanged", snapshot(s) == before, equals=True)


def _update_keys(s: RemoteSteps, to: KeyState, *, forged: bool = False) -> int:
    """The DL/T 645 key update to ``to`` (``forged``: its packages and MAC made under the
    other state's master-control key, not the meter's); the SERR word, 0 if accepted."""
    d = s.delivery
    try:
        with s.bench.clock_slowed(), d.session() as session:
            own = session.state
            if forged:
                session.state = KeyState.PRIVATE if own is KeyState.PUBLIC else KeyState.PUBLIC
            try:
                session.update_keys(to)
            finally:
                if forged:
                    session.state = own
    except SecurityRefused as e:
        return e.error_word
    return 0


def _key_update(s: RemoteSteps, to: KeyState) -> None:
    before = snapshot(s)
    s.record.measure("key update command accepted (SERR)", _update_keys(s, to), equals=0)
    s.record.measure("registers unchanged", snapshot(s) == before, equals=True)


def _remote_purchase(s: RemoteSteps, state: KeyState) -> None:
    """A sale delivered to a meter in ``state``: refused under the other state's keys (the
    identity authentication fails), then credited under its own."""
    other = KeyState.PRIVATE if state is KeyState.PUBLIC else KeyState.PUBLIC
    vend = s.vend(CREDIT)
    s.write_vend(vend)
    with s.record.step(f"a meter in the {state.value} state refuses a recharge under "
                       f"{other.value} keys"):
        _remote_refused(s, sec.SERR_IDENTITY, other)
    with s.record.step(f"a meter in the {state.value} state accepts a recharge under "
                       f"{state.value} keys"):
        credited(s, vend)
        verdict = s.settle().reconciliation.verdict
        s.record.measure("reconciliation verdict", str(verdict), equals="balanced")


def _by_remote(s: RemoteSteps) -> None:
    commissioned = s.delivery.key_state
    if commissioned is not KeyState.PUBLIC:
        with s.record.step("the key update command restores the public (test) keys"):
            _key_update(s, KeyState.PUBLIC)
    _remote_purchase(s, KeyState.PUBLIC)
    with s.record.step("a forged key update (sealed and MAC'd under a key that is not the "
                       "meter's) is refused"):
        before = snapshot(s)
        s.record.measure("key update refused (SERR)", _update_keys(s, KeyState.PRIVATE,
                                                                   forged=True),
                         equals=sec.SERR_ESAM, description="ESAM verification failed")
        s.record.measure("registers unchanged", snapshot(s) == before, equals=True)
    with s.record.step("the key update command moves the meter to the private state"):
        _key_update(s, KeyState.PRIVATE)
    _remote_purchase(s, KeyState.PRIVATE)
    _left_private(s, False, commissioned.value)


def _left_private(s: BenchSteps, settle: bool, commissioned: str) -> None:
    with s.record.step("key state the meter is left in"):
        if settle:
            verdict = s.settle().reconciliation.verdict
            s.record.measure("reconciliation verdict", str(verdict), equals="balanced")
        s.record.measure("meter key state", "private", description=(
            "its commissioned state" if commissioned == "private" else "commissioned public, "
            "left private: its registration at the centre must follow before it sells to it "
            "again"))


def key_update_moves_the_meter_to_the_private_key_state(s: BenchSteps) -> None:
    """In the public state a meter takes public-state purchases and refuses private-state ones;
    a genuine key update (card or DL/T 645 command) moves it to the private state, a forged
    one is refused and changes nothing; then public-state purchases are refused with the
    key-state error and private-state ones accepted.

    Certifies IEC 62055-31:2022 5.8.2, Annex A; Q/GDW 1354-2013 Annex C
    (rig.scenarios.cert_citations)."""
    commission(s)
    if isinstance(s, RemoteSteps):
        _by_remote(s)
        return
    if s.lacks_kind(CardKind.KEY_CHANGE):
        return
    known = key_revisions(s.card_format)
    if len(known) != 2:
        with s.record.step("two key states"):
            s.record.measure("two key states", f"not applicable: card format "
                             f"{s.card_format.name!r} has key revisions {known.start}.."
                             f"{known.stop - 1}, not two key states (its key change: "
                             "certification_keys)")
        return
    _by_card(s)
