"""RIGPP's meter side: what a prepaid meter does with an inserted RIGPP card.

The emulated firmware (``rig.sim``) gets this reader from the format
(``RIGPP.meter_reader``) and hands it the meter's registers as a
``rig.card_formats.interface.MeterWallet``; nothing here knows the emulator.

One insertion runs in three phases (docs/card-spec.md, "Meter session"):

1. **check** — read CARD_INFO and the records the card type carries, verify binding, key
   revision and MACs, and authenticate to the card with the readback key (key 02). Nothing in the
   meter changes here, so a refused or pulled card leaves every register as it was. A refusal
   says why with a State Grid card error code (rig.meter.card_errors), as the meter's abnormal
   card insertion record shows it.
2. **apply** — a new tariff, a purchase whose sequence number is new (a replayed one is ignored),
   a parameter set, a clear command or a key change.
3. **readback** — written into the older of the card's two READBACK slots, so a card pulled
   mid-write still carries the previous readback and the meter writes a fresh one next time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from rig.card.apdu import CardRemovedError, MacError, RecordError, StatusWordError
from rig.card.application import KEY_METER
from rig.card.keys import derive_readback_key, derive_readback_mac_key, unwrap_key
from rig.card.readback_format import record_from_fields
from rig.card.records import (
    CardInfo,
    CardType,
    ClearAction,
    ClearRecord,
    KeyChangeRecord,
    ParameterRecord,
    PurchaseRecord,
    ReadbackRecord,
    TariffRecord,
)
from rig.card.session import ApduTransport, CardSession
from rig.card_formats.interface import (
    MONEY_CENTS,
    CardRefusal,
    InsertionOutcome,
    MeterWallet,
)
from rig.card_formats.meter_rules import parameter_levels
from rig.credit_unit import CreditUnit
from rig.errors import CardError
from rig.meter.card_errors import CardErrorCode

NO_SERIAL = "0" * 16  # the card serial of a card whose CARD_INFO could not be read
NO_HEADER = bytes(5)


class _Refused(Exception):
    """A check failed before any register changed; the message is the meter's reason."""

    def __init__(self, message: str, code: CardErrorCode) -> None:
        super().__init__(message)
        self.code = code


def _card_error_refusal(e: CardError, serial: str) -> CardRefusal:
    """A card that failed: pulled out, a record that does not decode, or a command answered
    with an error status word (whose header and SW the record keeps)."""
    if isinstance(e, CardRemovedError):
        return CardRefusal(CardErrorCode.CARD_PULLED_EARLY, serial)
    if isinstance(e, RecordError):
        return CardRefusal(CardErrorCode.CARD_FILE_FORMAT_ERROR, serial)
    if isinstance(e, StatusWordError):
        return CardRefusal(CardErrorCode.CARD_COMMUNICATION_ERROR, serial,
                           e.header or NO_HEADER, e.sw)
    return CardRefusal(CardErrorCode.CARD_COMMUNICATION_ERROR, serial)


@dataclass
class _Plan:
    """Everything verified in the check phase, waiting to be applied."""

    info: CardInfo
    tariff: TariffRecord | None = None
    purchase: PurchaseRecord | None = None
    parameters: ParameterRecord | None = None
    clear: ClearRecord | None = None
    new_key: tuple[int, bytes] | None = None
    alarm_levels: dict[str, Decimal] = field(default_factory=dict)  # from the tariff record
    messages: list[str] = field(default_factory=list)
    applied: int | None = None
    changed: bool = False


def parameters_summary(p: ParameterRecord) -> dict[str, Any]:
    """A parameter set as plain JSON-friendly values (for the outcome and reports)."""
    return {
        "version": p.version,
        "alarm1": p.alarm1,
        "alarm2": p.alarm2,
        "overdraft_limit": p.overdraft_limit,
        "hoarding_limit": p.hoarding_limit,
        "power_limit_w": p.power_limit_w,
        "friendly_periods": [[f.start_hour, f.end_hour, f.weekdays] for f in p.friendly_periods],
        "tariff_version": p.tariff_version,
        "tariff_rates": [[r.start_minute, str(r.price_per_kwh)] for r in p.tariff_rates],
    }


class MeterCardTerminal:
    """Card slot logic of one prepaid meter (the caller holds the world still).

    ``key_revision`` is the revision of ``meter_key`` (default: the profile's); a KEY_CHANGE
    card moves both on. ``parameters`` is the last parameter set a PARAMETER card delivered:
    the engine applies its alarm levels, overdraft and hoarding limits and a flat tariff;
    friendly periods and the power limit are recorded here (the profile's stay in force).
    """

    def __init__(self, engine: MeterWallet, meter_no: str, meter_key: bytes, *,
                 readback_key: bytes, key_revision: int) -> None:
        self.engine = engine
        self.meter_no = meter_no
        self._key = meter_key
        self._readback_key = readback_key  # this meter's own, from the readback hierarchy
        self.key_revision = key_revision
        self.parameters: ParameterRecord | None = None
        self.last_clear_no = 0
        self._serial = NO_SERIAL  # the serial of the card in the slot, once read

    @property
    def readback_mac_key(self) -> bytes:
        """The key this meter MACs its readbacks with (at its current key revision)."""
        return derive_readback_mac_key(self._readback_key, self.key_revision)

    @property
    def credit_unit(self) -> CreditUnit:
        money = self.engine.credit_unit == MONEY_CENTS
        return CreditUnit.MONEY_CENTS if money else CreditUnit.ENERGY_WH

    # -- what survives a power cycle ---------------------------------------------------
    def nvm_state(self) -> dict[str, Any]:
        return {
            "key_revision": self.key_revision,
            "key": self._key.hex(),
            "last_clear_no": self.last_clear_no,
            "parameters": self.parameters.to_bytes().hex() if self.parameters else None,
        }

    def restore_nvm_state(self, state: Mapping[str, Any]) -> None:
        self.key_revision, self._key = state["key_revision"], bytes.fromhex(state["key"])
        self.last_clear_no = state["last_clear_no"]
        params = state["parameters"]
        self.parameters = ParameterRecord.from_bytes(bytes.fromhex(params)) if params else None

    def insert(self, transport: ApduTransport, now: datetime) -> InsertionOutcome:
        """Run one insertion session at bench time `now`."""
        session = CardSession(transport)
        self._serial = NO_SERIAL
        try:
            plan = self._check(session)
        except _Refused as e:
            return InsertionOutcome(False, None, str(e),
                                    refusal=self._refusal(e.code, e.__cause__))
        except CardError as e:  # unreadable or pulled card: registers untouched
            return InsertionOutcome(False, None, f"card error: {e}",
                                    refusal=_card_error_refusal(e, self._serial))
        card_type = plan.info.card_type.name
        self._apply(plan, now)
        try:
            session.write_readback(self.readback(now), self.readback_mac_key)
        except CardError as e:
            if not plan.changed:
                return InsertionOutcome(False, None, f"card error: {e}", card_type,
                                        refusal=_card_error_refusal(e, self._serial))
            plan.messages.append(f"card removed before the readback was written ({e})")
        else:
            plan.messages.append("readback written")
        params = parameters_summary(plan.parameters) if plan.parameters else None
        return InsertionOutcome(True, plan.applied, "; ".join(plan.messages), card_type, params)

    def _refusal(self, code: CardErrorCode, cause: BaseException | None) -> CardRefusal:
        if isinstance(cause, StatusWordError):  # a card command failed: keep its evidence
            return CardRefusal(code, self._serial, cause.header or NO_HEADER, cause.sw)
        return CardRefusal(code, self._serial)

    # -- phase 1: check (no register changes) ------------------------------------------
    def binds(self, meter_no: str) -> bool:
        """A card or record naming `meter_no` is for this meter (a mutant meter may differ)."""
        return meter_no == self.meter_no

    def verify(self, record: Any) -> None:
        """Check a record's MAC under the meter key (MacError if it does not verify)."""
        record.verify(self._key)

    def _check(self, session: CardSession) -> _Plan:
        try:
            session.select_application()
        except StatusWordError as e:  # no RIGPP application on it: not a card of this system
            raise _Refused(f"not a prepayment card of this meter ({e})",
                           CardErrorCode.CARD_TYPE_ERROR) from e
        try:
            info = session.read_info_optional()
        except RecordError as e:
            raise _Refused(f"card not readable as a RIGPP card ({e})",
                           CardErrorCode.CARD_FILE_FORMAT_ERROR) from None
        if info is None:
            raise _Refused("card not issued: its CARD_INFO is erased",
                           CardErrorCode.CARD_NOT_ISSUED)
        self._serial = info.card_serial
        if not self.binds(info.meter_no):
            raise _Refused(f"card is for meter {info.meter_no}",
                           CardErrorCode.METER_NUMBER_MISMATCH)
        if info.key_revision != self.key_revision:
            raise _Refused(f"card keyed for key revision {info.key_revision}, meter at "
                           f"{self.key_revision}: re-key it at the vending station",
                           CardErrorCode.NOT_AUTHORISED)
        plan = _Plan(info)
        try:
            {
                CardType.USER: self._check_user,
                CardType.PARAMETER: self._check_parameters,
                CardType.CHECK: lambda s, p: None,
                CardType.CLEAR: self._check_clear,
                CardType.KEY_CHANGE: self._check_key_change,
            }[info.card_type](session, plan)
        except MacError:
            raise _Refused("card data MAC invalid: refused", CardErrorCode.MAC_ERROR) from None
        try:
            session.authenticate(KEY_METER, derive_readback_key(self._key, info.card_serial),
                                 info.card_serial)
        except StatusWordError as e:  # the card refused the meter's cryptogram
            raise _Refused(f"card authentication failed: {e}",
                           CardErrorCode.EXTERNAL_AUTHENTICATION_ERROR) from e
        return plan

    def _record(self, session: CardSession, cls: type[Any], what: str) -> Any:
        try:
            rec = session.read_command(cls)
        except RecordError as e:
            raise _Refused(f"{what} card carries no valid {cls.NAME} ({e})",
                           CardErrorCode.CARD_FILE_FORMAT_ERROR) from None
        if rec is None:
            raise _Refused(f"{what} card carries no {cls.NAME}",
                           CardErrorCode.CARD_FILE_FORMAT_ERROR)
        self.verify(rec)
        if not self.binds(rec.meter_no):
            raise _Refused(f"{cls.NAME} is for meter {rec.meter_no}",
                           CardErrorCode.METER_NUMBER_MISMATCH)
        return rec

    def _check_user(self, session: CardSession, plan: _Plan) -> None:
        tariff = session.read_tariff()
        purchase = session.read_purchase()
        if tariff is not None:
            self.verify(tariff)
            if not self.binds(tariff.meter_no):
                raise _Refused(f"tariff is for meter {tariff.meter_no}",
                               CardErrorCode.METER_NUMBER_MISMATCH)
        if purchase is not None:
            self.verify(purchase)
            if not self.binds(purchase.meter_no):
                raise _Refused(f"purchase is for meter {purchase.meter_no}",
                               CardErrorCode.METER_NUMBER_MISMATCH)
            if purchase.key_revision != self.key_revision:
                raise _Refused(f"purchase made for key revision {purchase.key_revision}",
                               CardErrorCode.NOT_AUTHORISED)
            if purchase.credit_unit is not self.credit_unit:  # a card for another meter type
                raise _Refused("purchase credit unit does not match the meter",
                               CardErrorCode.CARD_TYPE_ERROR)
            new = purchase.sequence > self.engine.last_sequence
            if new and self.engine.would_hoard(purchase.credit):
                raise _Refused("hoarding limit exceeded: refused",
                               CardErrorCode.HOARDING_LIMIT_EXCEEDED)
            if new and tariff is not None:
                plan.alarm_levels = self._vend_alarm_levels(tariff, plan)
        plan.tariff, plan.purchase = tariff, purchase

    def _vend_alarm_levels(self, tariff: TariffRecord, plan: _Plan) -> dict[str, Decimal]:
        """The alarm levels a vend carries on its tariff record (0 = keep the meter's level).

        They belong to the purchase written beside them and are applied with it, once: an old
        card inserted again cannot undo a later change. Levels the meter's rules refuse (as a
        parameter card's would be) are not applied and the outcome says why; the credit still
        is — a wrong alarm level must not cost the customer the purchase.
        """
        units = self.engine.from_units
        levels = {name: units(value) for name, value in
                  (("alarm1", tariff.alarm1), ("alarm2", tariff.alarm2)) if value}
        if levels:
            try:
                self.engine.thresholds_with(**levels)
            except ValueError as e:
                plan.messages.append(f"alarm levels of the vend not applied: {e}")
                return {}
        return levels

    def _check_parameters(self, session: CardSession, plan: _Plan) -> None:
        rec: ParameterRecord = self._record(session, ParameterRecord, "parameter")
        if rec.key_revision != self.key_revision:
            raise _Refused(f"parameters made for key revision {rec.key_revision}",
                           CardErrorCode.NOT_AUTHORISED)
        try:
            self.engine.thresholds_with(**self.threshold_levels(rec))
        except ValueError as e:  # levels out of order: the parameter file is not valid
            raise _Refused(str(e), CardErrorCode.CARD_FILE_FORMAT_ERROR) from None
        plan.parameters = rec

    def _check_clear(self, session: CardSession, plan: _Plan) -> None:
        rec: ClearRecord = self._record(session, ClearRecord, "clear/test")
        if rec.key_revision != self.key_revision:
            raise _Refused(f"clear command made for key revision {rec.key_revision}",
                           CardErrorCode.NOT_AUTHORISED)
        plan.clear = rec

    def _check_key_change(self, session: CardSession, plan: _Plan) -> None:
        rec: KeyChangeRecord = self._record(session, KeyChangeRecord, "key-change")
        if rec.old_revision != self.key_revision:
            raise _Refused(f"key change from revision {rec.old_revision}, meter at "
                           f"{self.key_revision}", CardErrorCode.NOT_AUTHORISED)
        new_key = unwrap_key(self._key, rec.wrapped_key)
        if new_key is None or len(new_key) != len(self._key):  # its integrity check failed
            raise _Refused("key change: the new key does not unwrap under the meter key",
                           CardErrorCode.MAC_ERROR)
        plan.new_key = (rec.new_revision, new_key)

    def threshold_levels(self, p: ParameterRecord) -> dict[str, Decimal]:
        """A parameter set's credit levels in the meter's unit (a mutant meter overrides it)."""
        return parameter_levels(self.engine, p)

    # -- phase 2: apply ----------------------------------------------------------------
    def _apply(self, plan: _Plan, now: datetime) -> None:
        e = self.engine
        msgs = plan.messages
        if plan.tariff is not None and e.apply_tariff(plan.tariff.version,
                                                      plan.tariff.price_per_kwh):
            plan.changed = True
            msgs.append(f"tariff {plan.tariff.version} applied")
        if plan.purchase is not None:
            seq = plan.purchase.sequence
            if seq <= e.last_sequence:
                msgs.append(f"purchase {seq} already applied")
            else:
                e.apply_purchase(seq, plan.purchase.credit, now)
                plan.applied, plan.changed = seq, True
                msgs.append(f"credit applied (purchase {seq})")
                if plan.alarm_levels:
                    e.set_thresholds(**plan.alarm_levels)
                    msgs.append("alarm levels of the vend applied")
        if plan.parameters is not None:
            self._apply_parameters(plan)
        if plan.clear is not None:
            self._apply_clear(plan)
        if plan.new_key is not None:
            self.key_revision, self._key = plan.new_key
            plan.changed = True
            msgs.append(f"meter key changed to revision {self.key_revision}")
        if plan.info.card_type is CardType.CHECK:
            msgs.append("check card: usage data collected")

    def _apply_parameters(self, plan: _Plan) -> None:
        p = plan.parameters
        assert p is not None
        current = self.parameters.version if self.parameters else 0
        if p.version <= current:
            plan.messages.append(f"parameters {p.version} already applied")
            return
        self.parameters = p
        plan.changed = True
        self.engine.set_thresholds(**self.threshold_levels(p))
        plan.messages.append(f"parameters {p.version} recorded; alarm and limit levels applied")
        if len(p.tariff_rates) == 1:
            if self.engine.apply_tariff(p.tariff_version, p.tariff_rates[0].price_per_kwh):
                plan.messages.append(f"tariff {p.tariff_version} applied")
        else:
            plan.messages.append("time-of-use table recorded, not applied (flat tariff engine)")

    def _apply_clear(self, plan: _Plan) -> None:
        c = plan.clear
        assert c is not None
        if c.action is ClearAction.TEST:
            plan.messages.append("test card: meter state shown, nothing changed")
            return
        if c.clear_no <= self.last_clear_no:
            plan.messages.append(f"clear command {c.clear_no} already applied")
            return
        self.last_clear_no = c.clear_no
        self.engine.clear_events()
        plan.changed = True
        plan.messages.append(f"event counters cleared (clear command {c.clear_no})")

    # -- phase 3: readback -------------------------------------------------------------
    def readback(self, at: datetime) -> ReadbackRecord:
        """The meter's usage data as an (unsigned) readback record; the session signs it
        under the meter key as the card's next readback generation."""
        values = {**self.engine.readback_values(at), "meter_no": self.meter_no,
                  "timestamp": at.replace(microsecond=0)}
        return record_from_fields(values)


__all__ = ["MeterCardTerminal", "parameters_summary"]
