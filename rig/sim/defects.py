"""The defect catalogue: emulated meters that each carry one known defect ("mutants").

A certification suite is worth what it catches. Each defect here is one way a real prepaid
meter's firmware can be wrong, tied to the certified requirement whose scenario must fail on
it (docs/certification.md, "Mutant meters"). `rig sim --defect NAME` and a bench config's
`defect = "NAME"` start an emulated meter with it; `rig run --suite mutants` runs the suite
against every defect that applies to a profile and writes the kill matrix.

A defect is a subclass of one firmware part (the prepaid engine, the card terminal or the
meter) that overrides one method; `install` swaps the part's class, so the reference
firmware has no defect switches in it. Deviations are sized to exceed the tolerance the
suite declares for the requirement (docs/certification.md, "How scenarios judge a meter"):
10 % of an alarm level, a cut-off 10 % of alarm 2 off, twice the accuracy class in
metrology; a defect inside the declared tolerance is not one the standard asks to catch.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from rig.card.keys import unwrap_key
from rig.card.records import KeyChangeRecord, ReadbackRecord
from rig.card_formats.rigpp.meter import MeterCardTerminal
from rig.card_formats.sle4442.reader import SLE4442MeterReader
from rig.errors import ConfigError
from rig.meter.card_errors import CardErrorCode
from rig.meter.dlt645 import data_ids as di
from rig.meter.dlt645.frame import ABNORMAL
from rig.meter.protocols import Wire
from rig.profile import CreditKind, MeterProfile, Thresholds
from rig.sim import memory_card_defects as mc
from rig.sim import nvm
from rig.sim.defects_esam import ENTRIES as ESAM_ENTRIES
from rig.sim.emulated_printer import EmulatedPrinter
from rig.sim.escpos_parser import EscPosParser
from rig.sim.prepaid import PrepaidEngine, RelayReason
from rig.sim.sts_keypad import KeypadResult, StsKeypad, TokenResult

if TYPE_CHECKING:
    from rig.card.session import ApduTransport
    from rig.card_formats.interface import InsertionOutcome
    from rig.sim.meter_firmware import EmulatedMeter
    from rig.sts import token as tk

TENTH = Decimal("0.1")


@dataclass(frozen=True)
class Defect:
    """One known defect: what the meter (or the station's receipt printer on the bench, for
    the one requirement that certifies it) does wrong and the requirement that must catch it."""

    name: str
    requirement: str  # the certification test (docs/certification.md) that must fail on it
    what: str
    install: Callable[[Any], None]  # given the part it breaks: the meter, or the printer
    applies: Callable[[MeterProfile], bool] = lambda p: True
    part: str = "meter"  # "meter" | "printer"


# -- profile predicates --------------------------------------------------------------------
def _relay_trip(p: MeterProfile) -> bool:
    return "relay_trip" in p.thresholds.alarm2_actions


def _overdraft(p: MeterProfile) -> bool:
    return p.thresholds.overdraft_limit > 0


def _below_cutoff_recloses(p: MeterProfile) -> bool:
    """The cut-off scenario buys credit that leaves the balance above the cut-off level but at
    or below close-allowed only where there is debt to pay off (overdraft or automatic EC)."""
    ec = p.emergency_credit
    return _overdraft(p) or (ec is not None and ec.activation == "automatic")


def _ec(activation: str | None = None) -> Callable[[MeterProfile], bool]:
    def applies(p: MeterProfile) -> bool:
        ec = p.emergency_credit
        return ec is not None and (activation is None or ec.activation == activation)
    return applies


def _capability(name: str) -> Callable[[MeterProfile], bool]:
    return lambda p: name in p.capabilities


def _money(p: MeterProfile) -> bool:
    return p.credit.unit is CreditKind.MONEY


def _dlt645(p: MeterProfile) -> bool:
    return p.protocol.spec.wire is Wire.DLT645


def _rigpp(p: MeterProfile) -> bool:
    """The card-reader defects are wrong methods of RIGPP's reader: RIGPP meters only."""
    return p.card.format == "rigpp"


def _sle4442(p: MeterProfile) -> bool:
    """The memory-card defects are wrong methods of the SLE 4442 meter reader."""
    return p.card.format == "sle4442"


def _alarm1_reported(p: MeterProfile) -> bool:
    """Alarm 1 is visible on the meter's protocol (IEC 62056-21 status word); DL/T 645 status
    word 3 has no alarm-1 bit, so a DL/T 645 meter shows it only on its display."""
    return not _dlt645(p)


# -- installing a defect ------------------------------------------------------------------
def _engine(cls: type[PrepaidEngine]) -> Callable[[EmulatedMeter], None]:
    def install(meter: EmulatedMeter) -> None:
        meter.engine.__class__ = cls
    return install


def _terminal(cls: type[MeterCardTerminal | SLE4442MeterReader]) -> Callable[[EmulatedMeter], None]:
    def install(meter: EmulatedMeter) -> None:
        meter.terminal.__class__ = cls
    return install


def _sle4442_readback_key(meter: EmulatedMeter) -> None:
    t = meter.terminal
    assert isinstance(t, SLE4442MeterReader)
    mc.wrong_readback_key(t)


def _levels(**change: Callable[[Thresholds], object]) -> Callable[[EmulatedMeter], None]:
    """The alarm/relay logic acts on levels other than those the meter shows."""
    class Shifted(PrepaidEngine):
        def acting_levels(self) -> Thresholds:
            t = super().acting_levels()
            return t.model_copy(update={k: f(t) for k, f in change.items()})
    return _engine(Shifted)


def _cutoff_shift(t: Thresholds) -> Decimal:
    return t.alarm2 * TENTH


# -- engine defects ------------------------------------------------------------------------
class _UnpaidReclose(PrepaidEngine):
    """Recloses a relay opened for lack of credit, and then keeps it closed until the next
    purchase (the credit check is skipped after such a reclose)."""

    _unpaid_reclose: bool = False

    def _reclose_unpaid(self, at: datetime) -> bool:
        if self.relay_closed or self.relay_reason is not RelayReason.CREDIT_EXHAUSTED:
            return False
        self._unpaid_reclose = True
        self._close(at)
        return True

    def _check_events(self, at: datetime) -> None:
        if self._unpaid_reclose and self.relay_closed:
            return
        super()._check_events(at)

    def _next_event_wh(self, at: datetime) -> int | None:
        if self._unpaid_reclose and self.relay_closed:
            return None  # nothing stops the supply now: it runs on until the next purchase
        return super()._next_event_wh(at)

    def apply_purchase(self, sequence: int, units: int, at: datetime) -> None:
        self._unpaid_reclose = False
        super().apply_purchase(sequence, units, at)


class _RecloseWithoutCredit(_UnpaidReclose):
    """A card insertion recloses a relay opened for lack of credit."""

    def card_inserted(self, at: datetime) -> bool:
        return self._reclose_unpaid(at) or super().card_inserted(at)


class _AlarmTripNotCleared(PrepaidEngine):
    def card_inserted(self, at: datetime) -> bool:
        return False


class _CloseAllowedIgnored(PrepaidEngine):
    """Any purchase recloses while credit is above the cut-off level (close-allowed ignored)."""

    def apply_purchase(self, sequence: int, units: int, at: datetime) -> None:
        super().apply_purchase(sequence, units, at)
        if not self.relay_closed and self.relay_reason in (
                RelayReason.CREDIT_EXHAUSTED, RelayReason.ALARM2_TRIP) \
                and self.credit > self._cutoff_level:
            self._close(at)


class _NoRecloseAfterPurchase(PrepaidEngine):
    def _close(self, at: datetime) -> None:
        if self.relay_reason is RelayReason.CREDIT_EXHAUSTED:
            return
        super()._close(at)


class _EmergencyAboveAlarm2(PrepaidEngine):
    def acting_levels(self) -> Thresholds:
        t = super().acting_levels()
        return t.model_copy(update={"alarm2": t.alarm1 * 10})


class _EmergencyTwice(PrepaidEngine):
    def request_emergency_credit(self, at: datetime) -> bool:
        outstanding, self.emergency_outstanding = self.emergency_outstanding, Decimal(0)
        granted = super().request_emergency_credit(at)
        self.emergency_outstanding += outstanding
        return granted


class _EmergencyRefused(PrepaidEngine):
    def _lend_emergency(self, at: datetime) -> None:
        if self.relay_closed:  # automatic: cut off instead of lending
            self._open(RelayReason.CREDIT_EXHAUSTED, at)

    def request_emergency_credit(self, at: datetime) -> bool:
        return False


class _EmergencyForgiven(PrepaidEngine):
    def apply_purchase(self, sequence: int, units: int, at: datetime) -> None:
        self.emergency_outstanding = Decimal(0)  # the loan written off: the customer keeps it
        super().apply_purchase(sequence, units, at)


class _EmergencyShort(PrepaidEngine):
    def _lend_emergency(self, at: datetime) -> None:
        super()._lend_emergency(at)
        ec = self.profile.emergency_credit
        assert ec is not None
        half = (ec.amount / 2).quantize(self.profile.credit.resolution)
        self.credit -= half  # only the other half was lent
        self.emergency_outstanding -= half


class _FriendlyIgnored(PrepaidEngine):
    def in_friendly_period(self, at: datetime) -> bool:
        return False


class _FriendlyEndsLate(PrepaidEngine):
    def in_friendly_period(self, at: datetime) -> bool:
        return super().in_friendly_period(at) or super().in_friendly_period(
            at - timedelta(hours=1))


class _PowerLimitIgnored(PrepaidEngine):
    def _over_limit(self, power_w: Decimal) -> bool:
        return False


class _PowerLimitLow(PrepaidEngine):
    def _over_limit(self, power_w: Decimal) -> bool:
        return super()._over_limit(power_w * Decimal("2.5"))  # trips at 0.4 x the limit


class _ReconnectsEarly(PrepaidEngine):
    def _power_trip(self, at: datetime) -> None:
        super()._power_trip(at)
        lim = self.profile.power_limit
        assert lim is not None
        self.reconnect_at = at + timedelta(seconds=lim.reconnect_delay_s / 2)


class _PowerTripIsCutoff(PrepaidEngine):
    def _power_trip(self, at: datetime) -> None:
        super()._power_trip(at)
        self.events.cutoff_count += 1
        self.events.last_cutoff = at


class _CreditOneUnitMore(PrepaidEngine):
    def credit_from_units(self, units: int) -> Decimal:
        return super().credit_from_units(units + 1)


class _PurchaseCountStuck(PrepaidEngine):
    def apply_purchase(self, sequence: int, units: int, at: datetime) -> None:
        count = self.purchase_count
        super().apply_purchase(sequence, units, at)
        self.purchase_count = max(count, 1)


class _CumulativeNotKept(PrepaidEngine):
    def apply_purchase(self, sequence: int, units: int, at: datetime) -> None:
        super().apply_purchase(sequence, units, at)
        self.cumulative_purchase = self.credit_from_units(units)


class _HoardingIgnored(PrepaidEngine):
    def would_hoard(self, units: int) -> bool:
        return False


class _HoardingBalanceOnly(PrepaidEngine):
    def would_hoard(self, units: int) -> bool:
        return self.balance > self.acting_levels().hoarding_limit


class _FactoryLevels(PrepaidEngine):
    """The registers show what a parameter card set; the logic keeps the factory levels."""

    def acting_levels(self) -> Thresholds:
        return self._factory.thresholds

    @property
    def _factory(self) -> MeterProfile:
        return getattr(self, "_factory_profile", self.profile)


def _factory_levels(meter: EmulatedMeter) -> None:
    meter.engine.__class__ = _FactoryLevels
    object.__setattr__(meter.engine, "_factory_profile", meter.engine.profile)


class _MeteringError(PrepaidEngine):
    """Energy integrated at the wrong rate (a meter constant error)."""

    rate: Decimal = Decimal(1)

    def advance(self, seconds: float, power_w: Decimal, start: datetime) -> None:
        super().advance(seconds, power_w * self.rate, start)


def _metering(sign: int) -> Callable[[EmulatedMeter], None]:
    def install(meter: EmulatedMeter) -> None:
        error = _class_error(meter.profile) * 2 * sign
        meter.engine.__class__ = _MeteringError
        object.__setattr__(meter.engine, "rate", 1 + error)
    return install


def _class_error(p: MeterProfile) -> Decimal:
    digits = "".join(c for c in p.metering.accuracy_class if c.isdigit() or c == ".")
    return Decimal(digits or "1") / 100


class _TariffIgnored(PrepaidEngine):
    def apply_tariff(self, version: int, price_per_kwh: Decimal) -> bool:
        return False


class _TariffPriceKept(PrepaidEngine):
    def apply_tariff(self, version: int, price_per_kwh: Decimal) -> bool:
        return super().apply_tariff(version, self.price_per_kwh)


# -- card terminal defects -------------------------------------------------------------------
# RIGPP's meter reader (rig.card_formats.rigpp.meter) with one wrong method each: they apply
# to profiles whose [card] format is rigpp.
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


class _Readback(MeterCardTerminal):
    """A readback with one field wrong (`mutate`)."""

    def mutate(self, record: ReadbackRecord) -> ReadbackRecord:
        return record

    def readback(self, at: datetime) -> ReadbackRecord:
        return self.mutate(super().readback(at))


class _StaleEnergy(_Readback):
    _last_energy: int | None = None

    def mutate(self, record: ReadbackRecord) -> ReadbackRecord:
        stale = self._last_energy
        self._last_energy = record.energy_wh
        return record if stale is None else replace(record, energy_wh=stale)


class _WrongLastSequence(_Readback):
    def mutate(self, record: ReadbackRecord) -> ReadbackRecord:
        return replace(record, last_sequence=max(0, record.last_sequence - 1))


class _WrongRelayState(_Readback):
    def mutate(self, record: ReadbackRecord) -> ReadbackRecord:
        return replace(record, relay_open=not record.relay_open)


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


def _wrong_readback_key(meter: EmulatedMeter) -> None:
    t = meter.terminal
    assert isinstance(t, MeterCardTerminal)
    t._readback_key = bytes(b ^ 0x5A for b in t._readback_key)


# -- protocol defects --------------------------------------------------------------------------
def _register_one_digit_off(meter: EmulatedMeter) -> None:
    """The remaining-credit register encoded one last digit high (DL/T 645)."""
    from rig.sim.meter_firmware import EmulatedMeter as Reference

    class OneDigitOff(Reference):
        def _new_serial_side(self) -> None:
            super()._new_serial_side()
            if self._responder is not None:
                bank = self._responder.bank
                bank.__class__ = type("OneDigitOffRegisters", (type(bank),), {
                    "_values": _digit_off_values(type(bank)._values)})

    meter.__class__ = OneDigitOff
    meter._new_serial_side()


def _digit_off_values(values: Callable[[Any], dict[int, object]]) -> Callable[[Any],
                                                                               dict[int, object]]:
    def wrong(self: Any) -> dict[int, object]:
        out = values(self)
        for data_id in (di.REMAINING_AMOUNT, di.REMAINING_ENERGY):
            if data_id in out:
                out[data_id] = Decimal(str(out[data_id])) + Decimal("0.01")
        return out
    return wrong


def _error_answer_missing(meter: EmulatedMeter) -> None:
    """An abnormal reply is never sent (DL/T 645): the master waits out its timeout instead."""
    from rig.sim.meter_firmware import EmulatedMeter as Reference

    class Silent:
        def __init__(self, server: Any) -> None:
            self._server = server

        def respond(self, frame: Any) -> Any:
            reply = self._server.respond(frame)
            return None if reply is not None and reply.control & ABNORMAL else reply

        def __getattr__(self, name: str) -> Any:
            return getattr(self._server, name)

    class ErrorAnswerMissing(Reference):
        def _new_serial_side(self) -> None:
            super()._new_serial_side()
            if self._responder is not None:
                self._responder = Silent(self._responder)  # type: ignore[assignment]

    meter.__class__ = ErrorAnswerMissing
    meter._new_serial_side()


def _relay_bit_stuck(meter: EmulatedMeter) -> None:
    """Status word 3 never shows the relay open (DL/T 645)."""
    from rig.sim.meter_firmware import EmulatedMeter as Reference

    class RelayBitStuck(Reference):
        def status_word_3(self) -> int:
            return super().status_word_3() & ~(di.SW3_RELAY_OPEN | di.SW3_RELAY_COMMAND_OPEN)

    meter.__class__ = RelayBitStuck


# -- supply and cover defects (the firmware's non-volatile memory and power-up) ------------------
def _meter(make: Callable[[type[EmulatedMeter]], type[EmulatedMeter]]) -> Callable[
        [EmulatedMeter], None]:
    """Swap the meter's class for `make(reference class)` (imported late: the firmware module
    imports this catalogue's users)."""
    def install(meter: EmulatedMeter) -> None:
        from rig.sim.meter_firmware import EmulatedMeter as Reference

        meter.__class__ = make(Reference)
    return install


def _torn_write(*stale: str) -> Callable[[EmulatedMeter], None]:
    """The meter commits a card session's registers to NVM only when the session ends: a
    supply cut inside one saves the engine fields `stale` as they were before the card."""
    def make(reference: type[EmulatedMeter]) -> type[EmulatedMeter]:
        class TornWrite(reference):  # type: ignore[valid-type,misc]
            _before: dict[str, object] | None = None

            def insert_card(self, transport: ApduTransport) -> InsertionOutcome:
                self._before = nvm.engine_image(self.engine)
                try:
                    return super().insert_card(transport)
                finally:
                    self._before = None

            def nvm_image(self) -> bytes:
                return _with_engine_fields(super().nvm_image(), self._before, stale)
        return TornWrite
    return _meter(make)


def _with_engine_fields(raw: bytes, saved: dict[str, object] | None,
                        names: tuple[str, ...]) -> bytes:
    if saved is None:
        return raw
    image = nvm.loads(raw)
    image["engine"].update({k: saved[k] for k in names})
    return nvm.dumps(image)


def _stale_credit_at_power_up(reference: type[EmulatedMeter]) -> type[EmulatedMeter]:
    """The credit register is saved to NVM at card sessions only: a power-up brings back the
    credit of the last card, undoing the consumption since."""
    class StaleCredit(reference):  # type: ignore[valid-type,misc]
        _at_card: dict[str, object] | None = None

        def insert_card(self, transport: ApduTransport) -> InsertionOutcome:
            outcome = super().insert_card(transport)
            self._at_card = nvm.engine_image(self.engine)
            return outcome

        def nvm_image(self) -> bytes:
            return _with_engine_fields(super().nvm_image(), self._at_card, ("credit",))
    return StaleCredit


def _cover_latch_lost(reference: type[EmulatedMeter]) -> type[EmulatedMeter]:
    class CoverLatchLost(reference):  # type: ignore[valid-type,misc]
        def _record_latched_cover(self) -> None:
            self._cover_latch = None  # the switch's latch read and dropped at power-up
    return CoverLatchLost


def _cover_not_counted(reference: type[EmulatedMeter]) -> type[EmulatedMeter]:
    class CoverNotCounted(reference):  # type: ignore[valid-type,misc]
        def open_cover(self) -> None:
            tampers = self.engine.events.tamper_count
            super().open_cover()
            if self.powered:
                self.engine.events.tamper_count = tampers  # recorded, never counted
    return CoverNotCounted


class _RelayOpenAfterPowerUp(PrepaidEngine):
    """Power-up leaves the relay open until the next card, whatever the credit."""

    def resume(self, at: datetime) -> None:
        super().resume(at)
        if self.relay_closed:
            self.relay_closed, self.relay_reason = False, RelayReason.ALARM2_TRIP


class _RelayClosedAfterPowerUp(_UnpaidReclose):
    """Power-up closes a relay opened for lack of credit."""

    def resume(self, at: datetime) -> None:
        super().resume(at)
        self._reclose_unpaid(at)


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


# -- keypad (STS) defects ---------------------------------------------------------------------
def _keypad(cls: type[StsKeypad]) -> Callable[[EmulatedMeter], None]:
    def install(meter: EmulatedMeter) -> None:
        assert meter.keypad is not None  # applies only to a profile with [sts]
        meter.keypad.__class__ = cls
    return install


def _sts(p: MeterProfile) -> bool:
    return p.sts is not None


class _UsedTokenAccepted(StsKeypad):
    def _tid_refusal(self, tid: int) -> KeypadResult | None:
        refused = super()._tid_refusal(tid)
        return None if refused is not None and refused.result is TokenResult.USED else refused


class _OldTokenAccepted(StsKeypad):
    def _tid_refusal(self, tid: int) -> KeypadResult | None:
        refused = super()._tid_refusal(tid)
        return None if refused is not None and refused.result is TokenResult.OLD else refused


class _TokenCreditedTwice(StsKeypad):
    def _apply(self, decoded: tk.Decoded, at: datetime) -> KeypadResult:
        result = super()._apply(decoded, at)
        if result.accepted and result.credit is not None:
            self.effects.credit(decoded.subclass, result.credit, at)
        return result


class _OldKeyKept(StsKeypad):
    """After a key change the superseded decoder key still decrypts tokens."""

    _superseded: bytes | None = None

    def _install(self, sections: list[int]) -> None:
        self._superseded = self.decoder_key
        super()._install(sections)

    def enter(self, typed: str, at: datetime) -> KeypadResult:
        result = super().enter(typed, at)
        if result.result is not TokenResult.CRC or self._superseded is None:
            return result
        current, self.decoder_key = self.decoder_key, self._superseded
        try:
            return super().enter(typed, at)
        finally:
            self.decoder_key = current


class _RolloverKeepsTids(StsKeypad):
    """A roll-over key change moves the meter to the new key and base date but keeps the TID
    memory of the old base date, so every token counted from the new base date is Old."""

    def _install(self, sections: list[int]) -> None:
        kept = list(self.tids)
        super()._install(sections)
        if not self.tids and kept:
            self.tids.extend(kept)


class _CrcShownAsFormat(StsKeypad):
    """A token that does not decrypt (another meter's, or a mistype) shows Format."""

    def enter(self, typed: str, at: datetime) -> KeypadResult:
        result = super().enter(typed, at)
        if result.result is TokenResult.CRC:
            return KeypadResult(TokenResult.FORMAT, result.detail)
        return result


# -- receipt printer defects (the vending station's printer on the bench) -------------------
class _PaperEndNotReported(EmulatedPrinter):
    """The paper-end sensor never reports: with the roll out the printer says it is ready and
    what it is sent never reaches paper."""

    def status_byte(self, n: int) -> int:
        held = self.state
        self.state = replace(held, paper_out=False)
        try:
            return super().status_byte(n)
        finally:
            self.state = held


class _CutIgnoredParser(EscPosParser):
    def _cut(self, how: Literal["full", "partial"]) -> None:
        super()._cut(how)
        self.receipts[-1].cut = None  # the paper fed on, never cut


class _CutterIgnored(EmulatedPrinter):
    """The cutter ignores GS V: receipts come out one long strip, never cut."""

    def _new_parser(self) -> EscPosParser:
        return _CutIgnoredParser(status=self.status_byte)


def _printer(cls: type[EmulatedPrinter]) -> Callable[[EmulatedPrinter], None]:
    def install(printer: EmulatedPrinter) -> None:
        printer.__class__ = cls
        printer._pty_parser = printer._new_parser()
    return install


# -- the catalogue -------------------------------------------------------------------------------
ALARMS = "alarms at predicted times"
CUTOFF = "cutoff and reconnection"
EMERGENCY = "emergency credit"
FRIENDLY = "friendly period"
POWER = "power limit trip and recovery"
BUY = "buy and insert"
REPLAY = "replayed card is not applied twice"
OTHER_METER = "card for another meter is refused"
CYCLES = "reconciliation over several cycles"
MAC = "forged mac is refused"
HOARDING = "hoarding limit refusal"
PARAMETERS = "parameter card changes thresholds"
TARIFF = "tariff change at its effective date"
CUT_IN_CARD = "power failure during a card insertion"
CUT_IN_USE = "power failure during consumption"
COVER = "terminal cover opening is recorded"
PROTOCOL_ERROR = "unknown register is answered with an error"
PRINTER = "receipt printer"
STS_CREDIT = "sts credit token is accepted"
STS_USED = "sts used token is refused"
STS_OLD = "sts old token is refused"
STS_OTHER_METER = "sts token made for a different meter is refused"
STS_KEY_CHANGE = "sts key change then a token under the new key"
STS_ROLLOVER = "sts rollover to the next base date"
KEY_CHANGE = "key change card moves the meter to the next key revision"
CARD_TIMING = "card session within 3 s"

_CATALOGUE: tuple[Defect, ...] = (
    Defect("alarm1-early", ALARMS, "alarm 1 raised at 110 % of its level",
           _levels(alarm1=lambda t: t.alarm1 * (1 + TENTH)), _alarm1_reported),
    Defect("alarm1-late", ALARMS, "alarm 1 raised at 90 % of its level",
           _levels(alarm1=lambda t: t.alarm1 * (1 - TENTH)), _alarm1_reported),
    Defect("alarm2-early", ALARMS, "alarm 2 raised at 110 % of its level",
           _levels(alarm2=lambda t: t.alarm2 * (1 + TENTH))),
    Defect("alarm2-late", ALARMS, "alarm 2 raised at 90 % of its level",
           _levels(alarm2=lambda t: t.alarm2 * (1 - TENTH))),
    Defect("alarm2-trip-missing", ALARMS, "alarm 2 does not trip the relay the profile trips",
           _levels(alarm2_actions=lambda t: t.alarm2_actions - {"relay_trip"}), _relay_trip),
    Defect("alarm2-trip-spurious", ALARMS, "alarm 2 trips the relay though the profile "
           "does not", _levels(alarm2_actions=lambda t: t.alarm2_actions | {"relay_trip"}),
           lambda p: not _relay_trip(p)),
    Defect("alarm2-trip-not-cleared", ALARMS, "a card insertion does not reclose an alarm-2 "
           "trip", _engine(_AlarmTripNotCleared), _relay_trip),
    Defect("cutoff-early", CUTOFF, "relay opens before credit reaches the cut-off level "
           "(10 % of alarm 2 early)",
           _levels(overdraft_limit=lambda t: t.overdraft_limit - _cutoff_shift(t))),
    Defect("cutoff-late", CUTOFF, "relay stays closed past the cut-off level (10 % of alarm 2)",
           _levels(overdraft_limit=lambda t: t.overdraft_limit + _cutoff_shift(t))),
    Defect("overdraft-ignored", CUTOFF, "cut-off at zero credit although overdraft is allowed",
           _levels(overdraft_limit=lambda t: Decimal(0)), _overdraft),
    Defect("reclose-without-credit", CUTOFF, "a card without a purchase recloses a relay "
           "opened for lack of credit", _engine(_RecloseWithoutCredit)),
    Defect("close-allowed-ignored", CUTOFF, "a purchase leaving credit at or below "
           "close-allowed recloses the relay", _engine(_CloseAllowedIgnored),
           _below_cutoff_recloses),
    Defect("no-reclose-after-purchase", CUTOFF, "a purchase never recloses a relay opened for "
           "lack of credit", _engine(_NoRecloseAfterPurchase)),
    Defect("emergency-credit-above-alarm2", EMERGENCY, "emergency credit granted on request "
           "while credit is above alarm 2", _engine(_EmergencyAboveAlarm2), _ec("on_request")),
    Defect("emergency-credit-twice", EMERGENCY, "emergency credit granted again before the "
           "first loan is repaid", _engine(_EmergencyTwice), _ec("on_request")),
    Defect("emergency-credit-refused", EMERGENCY, "emergency credit never lent",
           _engine(_EmergencyRefused), _ec()),
    Defect("emergency-credit-forgiven", EMERGENCY, "the next purchase writes the loan off "
           "instead of repaying it", _engine(_EmergencyForgiven), _ec()),
    Defect("emergency-credit-short", EMERGENCY, "half the emergency credit amount lent",
           _engine(_EmergencyShort), _ec()),
    Defect("friendly-period-ignored", FRIENDLY, "cut-off inside a friendly period",
           _engine(_FriendlyIgnored), _capability("friendly_periods")),
    Defect("friendly-period-ends-late", FRIENDLY, "friendly period held an hour past its end",
           _engine(_FriendlyEndsLate), _capability("friendly_periods")),
    Defect("power-limit-not-enforced", POWER, "no trip above the power limit",
           _engine(_PowerLimitIgnored), _capability("power_limit")),
    Defect("power-limit-low", POWER, "power limit enforced at 40 % of its level",
           _engine(_PowerLimitLow), _capability("power_limit")),
    Defect("power-limit-reconnects-early", POWER, "reconnection after half the delay",
           _engine(_ReconnectsEarly), _capability("power_limit")),
    Defect("power-trip-recorded-as-cutoff", POWER, "a power-limit trip recorded as a credit "
           "cut-off", _engine(_PowerTripIsCutoff), _capability("power_limit")),
    Defect("credit-one-unit-more", BUY, "each purchase credited one card unit more",
           _engine(_CreditOneUnitMore)),
    Defect("cumulative-purchase-not-kept", CYCLES, "cumulative purchase register holds only the "
           "last purchase", _engine(_CumulativeNotKept)),
    Defect("replay-applied-again", REPLAY, "a purchase already applied is credited again when "
           "the same card is inserted", _terminal(_ReplayApplied), _rigpp),
    Defect("card-for-another-meter-accepted", OTHER_METER, "a card bound to another meter is "
           "accepted", _terminal(_AnyMeter), _rigpp),
    Defect("purchase-count-stuck", CYCLES, "purchase count stops at 1",
           _engine(_PurchaseCountStuck)),
    Defect("energy-fast", CYCLES, "energy integrated fast by twice the accuracy class",
           _metering(+1)),
    Defect("energy-slow", CYCLES, "energy integrated slow by twice the accuracy class",
           _metering(-1)),
    Defect("readback-stale-energy", CYCLES, "readback reports the energy of the previous "
           "readback", _terminal(_StaleEnergy), _rigpp),
    Defect("readback-wrong-last-sequence", BUY, "readback reports the sequence before the "
           "last one applied", _terminal(_WrongLastSequence), _rigpp),
    Defect("readback-wrong-relay-state", BUY, "readback reports the relay state inverted",
           _terminal(_WrongRelayState), _rigpp),
    Defect("readback-mac-wrong", BUY, "readback MAC'd under a wrong key", _wrong_readback_key,
           _rigpp),
    Defect("mac-not-checked", MAC, "purchase and tariff MACs not verified",
           _terminal(_MacNotChecked), _rigpp),
    Defect("key-change-wrong-key-accepted", KEY_CHANGE, "a key change card signed under a key "
           "that is not the meter's is installed (MAC, old revision and key wrap not checked)",
           _terminal(_KeyChangeUnchecked), _rigpp),
    Defect("key-change-not-applied", KEY_CHANGE, "a key change card is acknowledged but the "
           "meter keeps its old key revision", _terminal(_KeyChangeNotApplied), _rigpp),
    Defect("key-change-old-key-kept", KEY_CHANGE, "after a key change, cards keyed for the "
           "superseded revision are still accepted", _terminal(_SupersededKeyKept), _rigpp),
    Defect("hoarding-not-enforced", HOARDING, "purchases beyond the hoarding limit accepted",
           _engine(_HoardingIgnored)),
    Defect("hoarding-checks-balance-only", HOARDING, "hoarding limit compared with the balance "
           "before the purchase", _engine(_HoardingBalanceOnly)),
    Defect("parameter-card-ignored", PARAMETERS, "a parameter card's levels not applied",
           _terminal(_ParametersIgnored), _rigpp),
    Defect("parameter-levels-not-acted", PARAMETERS, "parameter levels shown in the registers "
           "but the alarms act at the factory levels", _factory_levels),
    Defect("tariff-not-applied", TARIFF, "a new tariff version on the card is ignored",
           _engine(_TariffIgnored)),
    Defect("tariff-price-kept", TARIFF, "a new tariff version is accepted but the old price "
           "still charged", _engine(_TariffPriceKept), _money),
    # memory-card meters (SLE 4442): the same requirements, broken in their own reader
    Defect("sle4442-replay-applied-again", REPLAY, "a purchase count equal to the last applied "
           "one is credited again", _terminal(mc.ReplayApplied), _sle4442),
    Defect("sle4442-card-for-another-meter-accepted", OTHER_METER, "the meter number on the "
           "card is not compared with the meter's", _terminal(mc.AnyMeter), _sle4442),
    Defect("sle4442-parameter-card-ignored", PARAMETERS, "a parameter card's levels not "
           "applied", _terminal(mc.ParametersIgnored), _sle4442),
    Defect("sle4442-readback-stale-energy", CYCLES, "readback reports the energy of the "
           "previous readback", _terminal(mc.StaleEnergy), _sle4442),
    Defect("sle4442-readback-wrong-last-sequence", BUY, "readback reports the sequence before "
           "the last one applied", _terminal(mc.WrongLastSequence), _sle4442),
    Defect("sle4442-readback-wrong-relay-state", BUY, "readback reports the relay state "
           "inverted", _terminal(mc.WrongRelayState), _sle4442),
    Defect("sle4442-readback-mac-wrong", BUY, "readback MAC'd under a wrong key",
           _sle4442_readback_key, _sle4442),
    Defect("remaining-register-digit-high", BUY, "DL/T 645 remaining-credit register one last "
           "digit high", _register_one_digit_off, _dlt645),
    Defect("relay-status-bit-stuck", CUTOFF, "DL/T 645 status word 3 never shows the relay "
           "open", _relay_bit_stuck, _dlt645),
    Defect("error-answer-missing", PROTOCOL_ERROR, "DL/T 645 abnormal replies never sent (a "
           "read of a register the meter lacks goes unanswered)", _error_answer_missing,
           _dlt645),
    Defect("torn-write-loses-credit", CUT_IN_CARD, "a supply cut inside a card session saves "
           "the purchase's sequence but not its credit", _torn_write(
               "credit", "cumulative_purchase", "purchase_count")),
    Defect("torn-write-doubles-credit", CUT_IN_CARD, "a supply cut inside a card session saves "
           "the purchase's credit but not its sequence (the card applies again)",
           _torn_write("last_sequence")),
    Defect("stale-credit-after-power-up", CUT_IN_USE, "power-up restores the credit of the last "
           "card, undoing the consumption since", _meter(_stale_credit_at_power_up)),
    Defect("relay-open-after-power-up", CUT_IN_USE, "power-up leaves the relay open until the "
           "next card", _engine(_RelayOpenAfterPowerUp)),
    Defect("relay-closed-after-power-up", CUTOFF, "power-up closes a relay opened for lack of "
           "credit", _engine(_RelayClosedAfterPowerUp)),
    Defect("tamper-not-latched", COVER, "a cover opening while the meter has no supply is not "
           "recorded at power-up", _meter(_cover_latch_lost)),
    Defect("tamper-not-counted", COVER, "a cover opening with supply is not counted",
           _meter(_cover_not_counted)),
    Defect("printer-paper-end-not-reported", PRINTER, "the receipt printer's paper-end "
           "sensor never reports: with the roll out it answers ready and prints nothing",
           _printer(_PaperEndNotReported), part="printer"),
    Defect("printer-cutter-ignored", PRINTER, "the receipt printer never cuts the paper",
           _printer(_CutterIgnored), part="printer"),
    Defect("card-session-slow", CARD_TIMING, "the meter's card session stalls 3.5 s after the "
           "card's first answer (the customer pulls the card before it ends)",
           _meter(_slow_card_session)),
    Defect("sts-used-token-accepted", STS_USED, "a token typed again is credited again",
           _keypad(_UsedTokenAccepted), _sts),
    Defect("sts-old-token-accepted", STS_OLD, "a token older than the TID memory is accepted",
           _keypad(_OldTokenAccepted), _sts),
    Defect("sts-credit-added-twice", STS_CREDIT, "each credit token adds its amount twice",
           _keypad(_TokenCreditedTwice), _sts),
    Defect("sts-old-key-accepted", STS_KEY_CHANGE, "after a key change the superseded decoder "
           "key is still accepted", _keypad(_OldKeyKept), _sts),
    Defect("sts-rollover-keeps-tid-memory", STS_ROLLOVER, "a roll-over key change keeps the "
           "old base date's TID memory (new-base tokens refused as Old)",
           _keypad(_RolloverKeepsTids), _sts),
    Defect("sts-crc-error-shown-as-format", STS_OTHER_METER, "a token that does not decrypt "
           "shows Format instead of CRC Err (the wrong refusal reason)",
           _keypad(_CrcShownAsFormat), _sts),
)

_CATALOGUE += tuple(Defect(*entry) for entry in ESAM_ENTRIES)  # rig/sim/defects_esam.py
DEFECTS: dict[str, Defect] = {d.name: d for d in _CATALOGUE}


def defect(name: str) -> Defect:
    """The catalogue entry `name` (ConfigError naming the known ones)."""
    try:
        return DEFECTS[name]
    except KeyError:
        raise ConfigError(f"unknown meter defect {name!r} (known: {', '.join(DEFECTS)})") \
            from None


def applicable(profile: MeterProfile) -> list[Defect]:
    """The defects a meter of `profile` can carry (e.g. no power-limit defect without one)."""
    return [d for d in _CATALOGUE if d.applies(profile)]


def install(meter: EmulatedMeter, name: str, printer: EmulatedPrinter | None = None) -> None:
    """Give `meter` (or, for a printer defect, the bench's `printer`) the defect `name`
    (before the bench starts serving it)."""
    entry = defect(name)
    if not entry.applies(meter.profile):
        raise ConfigError(f"meter defect {name!r} does not apply to profile "
                          f"{meter.profile.name!r} (it lacks what the defect breaks)")
    if entry.part == "printer":
        if printer is None:
            raise ConfigError(f"defect {name!r} breaks the receipt printer: this bench has none")
        entry.install(printer)
        return
    entry.install(meter)
