"""Defects of the meter's card reader: a replayed purchase applied again, another meter's card
accepted, MACs not checked, key change cards mishandled, parameter cards ignored, a card
session too slow for the customer.

RIGPP's meter reader (rig.card_formats.rigpp.meter) with one wrong method each: they apply to
profiles whose [card] format is rigpp; the SLE 4442 reader's (rig/sim/memory_card_defects.py)
to memory-card meters."""

from __future__ import annotations

import time
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from rig.card.keys import unwrap_key
from rig.card.records import KeyChangeRecord
from rig.card_formats.rigpp.meter import MeterCardTerminal
from rig.meter.card_errors import CardErrorCode
from rig.sim import memory_card_defects as mc
from rig.sim.defects.applies_to import rigpp, sle4442
from rig.sim.defects.entry import Defect
from rig.sim.defects.parts import meter, terminal
from rig.sim.defects.requirements import (
    CARD_TIMING,
    KEY_CHANGE,
    MAC,
    OTHER_METER,
    PARAMETERS,
    REPLAY,
)

if TYPE_CHECKING:
    from rig.card.session import ApduTransport
    from rig.card_formats.interface import InsertionOutcome
    from rig.sim.meter_firmware import EmulatedMeter


class _AnyMeter(MeterCardTerminal):
    def binds(self, meter_no: str) -> bool:
        return True


class _MacNotChecked(MeterCardTerminal):
    def verify(self, record: Any) -> None:
        return None


class _ReplayApplied(MeterCardTerminal):
    """A purchase already applied is applied again (the sequence check compares wrongly)."""

    def _apply(self, plan: Any, now: datetime) -> None:
        e = self.engine
        if plan.purchase is not None and plan.purchase.sequence <= e.last_sequence:
            e.last_sequence = plan.purchase.sequence - 1
        super()._apply(plan, now)


class _ParametersIgnored(MeterCardTerminal):
    def threshold_levels(self, p: Any) -> dict[str, Decimal]:
        t = self.engine.thresholds_with()  # the levels the meter holds, unchanged
        return {"alarm1": t.alarm1, "alarm2": t.alarm2,
                "overdraft_limit": t.overdraft_limit, "hoarding_limit": t.hoarding_limit}


class _KeyChangeUnchecked(MeterCardTerminal):
    """A KEY_CHANGE card is trusted as read: its MAC, its old revision and the key wrap's
    integrity check are not verified, so a key change signed under any key is installed."""

    def _check_key_change(self, session: Any, plan: Any) -> None:
        rec = session.read_command(KeyChangeRecord)
        if rec is None:
            super()._check_key_change(session, plan)
            return
        new_key = unwrap_key(self._key, rec.wrapped_key) or rec.wrapped_key[:len(self._key)]
        plan.new_key = (rec.new_revision, new_key)


class _KeyChangeNotApplied(MeterCardTerminal):
    """A KEY_CHANGE card is checked and acknowledged, but the new key is never stored: the
    meter stays at its old key revision."""

    def _apply(self, plan: Any, now: datetime) -> None:
        if plan.new_key is not None:
            plan.new_key = None
            plan.changed = True
            plan.messages.append(f"meter key changed to revision {self.key_revision + 1}")
        super()._apply(plan, now)


class _SupersededKeyKept(MeterCardTerminal):
    """After a key change the meter still accepts cards keyed for the superseded revision
    (it retries a card it refused as not authorised under the old key)."""

    _superseded: tuple[int, bytes] | None = None

    def insert(self, transport: ApduTransport, now: datetime) -> InsertionOutcome:
        before = (self.key_revision, self._key)
        outcome = super().insert(transport, now)
        if self.key_revision != before[0]:
            self._superseded = before
            return outcome
        old, refusal = self._superseded, outcome.refusal
        if old is None or refusal is None or refusal.code != CardErrorCode.NOT_AUTHORISED:
            return outcome
        self.key_revision, self._key = old
        try:
            return super().insert(transport, now)
        finally:
            self.key_revision, self._key = before


class _Stalling:
    """A card slot that stalls after the card's first answer (slow firmware or slot)."""

    STALL_S = 3.5  # past the 3 s card-session deadline

    def __init__(self, transport: ApduTransport) -> None:
        self._transport, self._answers = transport, 0

    def transmit(self, apdu: bytes) -> bytes:
        if self._answers == 1:
            time.sleep(self.STALL_S)
        self._answers += 1
        return self._transport.transmit(apdu)


def _slow_card_session(reference: type[EmulatedMeter]) -> type[EmulatedMeter]:
    """The meter's card session takes 3.5 s longer than the card needs."""
    class SlowSession(reference):  # type: ignore[valid-type,misc]
        def insert_card(self, transport: ApduTransport) -> InsertionOutcome:
            return super().insert_card(_Stalling(transport))  # type: ignore[no-any-return]
    return SlowSession


DEFECTS = (
    Defect("replay-applied-again", REPLAY, "a purchase already applied is credited again when "
           "the same card is inserted", terminal(_ReplayApplied), rigpp),
    Defect("card-for-another-meter-accepted", OTHER_METER, "a card bound to another meter is "
           "accepted", terminal(_AnyMeter), rigpp),
    Defect("mac-not-checked", MAC, "purchase and tariff MACs not verified",
           terminal(_MacNotChecked), rigpp),
    Defect("key-change-wrong-key-accepted", KEY_CHANGE, "a key change card signed under a key "
           "that is not the meter's is installed (MAC, old revision and key wrap not checked)",
           terminal(_KeyChangeUnchecked), rigpp),
    Defect("key-change-not-applied", KEY_CHANGE, "a key change card is acknowledged but the "
           "meter keeps its old key revision", terminal(_KeyChangeNotApplied), rigpp),
    Defect("key-change-old-key-kept", KEY_CHANGE, "after a key change, cards keyed for the "
           "superseded revision are still accepted", terminal(_SupersededKeyKept), rigpp),
    Defect("parameter-card-ignored", PARAMETERS, "a parameter card's levels not applied",
           terminal(_ParametersIgnored), rigpp),
    # memory-card meters (SLE 4442): the same requirements, broken in their own reader
    Defect("sle4442-replay-applied-again", REPLAY, "a purchase count equal to the last applied "
           "one is credited again", terminal(mc.ReplayApplied), sle4442),
    Defect("sle4442-card-for-another-meter-accepted", OTHER_METER, "the meter number on the "
           "card is not compared with the meter's", terminal(mc.AnyMeter), sle4442),
    Defect("sle4442-parameter-card-ignored", PARAMETERS, "a parameter card's levels not "
           "applied", terminal(mc.ParametersIgnored), sle4442),
    Defect("card-session-slow", CARD_TIMING, "the meter's card session stalls 3.5 s after the "
           "card's first answer (the customer pulls the card before it ends)",
           meter(_slow_card_session)),
)
