"""The STS desk: keypad meters' identities, the token a sale to one produces, management
tokens (power limit, clear credit, clear tamper, key change sets) and the TID roll-over.

Every token gets a token identifier (TID) later than any issued to its meter before: the
minute of issue, or — when a token of that minute or later exists (two sales in one minute,
a clock set back) — the next free minute, kept in ``sts_meters.last_tid`` and written in the
same transaction as the token, so two stations cannot hand out one TID (the meter row is
locked by the sale; on SQLite the whole write is serialised). Tokens are stored as issued
(``sts_tokens``) so a reprint is exact; their digits and the keys are never in the audit log.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rig.billing import audit
from rig.billing import models as m
from rig.billing.centre import lookup
from rig.billing.centre.access import Access
from rig.billing.centre.errors import Conflict, NotFound, VendRefused
from rig.billing.centre.sts_amounts import (
    CURRENCY_SUBCLASS,
    WH_PER_STEP,
    cents_per_step,
    check_currency_step,
)
from rig.billing.centre.uow import UnitOfWork
from rig.billing.sts_keys import StsKeyService
from rig.billing.types import CreditUnit, StsTokenInfo
from rig.errors import BillingError, ConfigError
from rig.sts import amount as amount_field
from rig.sts import token as tk
from rig.sts import tokens
from rig.sts.errors import StsError
from rig.sts.identity import StsSection, identity_of
from rig.sts.keys import BASE_YEARS

if TYPE_CHECKING:
    from rig.billing.centre.sales.sale_db import SaleDb

TID_MAX = (1 << tk.TID_BITS) - 1
MANAGEMENT = {"power_limit": tokens.SET_POWER_LIMIT, "clear_credit": tokens.CLEAR_CREDIT,
              "clear_tamper": tokens.CLEAR_TAMPER}


def checked_identity(identity: StsSection | dict[str, object]) -> StsSection:
    """The identity checked with a profile's ``[sts]`` rules (BillingError naming the field)."""
    with _one_line():
        return identity if isinstance(identity, StsSection) else identity_of(identity)


_IDENTITY = ("pan", "supply_group", "tariff_index", "key_revision", "key_type", "dkga",
             "encryption", "base_date", "currency_step")


def identity_row(row: m.StsMeter | dict[str, Any]) -> StsSection:
    """The identity an ``sts_meters`` row (ORM object or Core row) holds."""
    values = row if isinstance(row, dict) else {c: getattr(row, c) for c in _IDENTITY}
    return StsSection.model_validate({c: values[c] for c in _IDENTITY})


def token_info(t: m.StsToken, meter_no: str) -> StsTokenInfo:
    return StsTokenInfo(t.id, meter_no, t.kind, t.digits, t.tid, t.base_date, t.value,
                        t.issued_at, t.vend_id, t.position)


def _identity_audit(row: m.StsMeter, meter_no: str) -> dict[str, object]:
    """What the audit keeps of an identity: every attribute, no key."""
    return {"meter_no": meter_no, "pan": row.pan, "supply_group": row.supply_group,
            "tariff_index": row.tariff_index, "key_revision": row.key_revision,
            "key_type": row.key_type, "dkga": row.dkga, "encryption": row.encryption,
            "base_date": row.base_date, "currency_step": row.currency_step}


_AUDITED = ("kind", "tid", "base_date", "value", "vend_id", "position")


def _token_audit(row: dict[str, Any], meter_no: str, key_id: str,
                 public_test_key: bool) -> dict[str, object]:
    """What the audit keeps of a token: what it is for, never its digits or key."""
    return {"meter_no": meter_no, **{c: row[c] for c in _AUDITED},
            "vending_key_id": key_id, "public_test_key": public_test_key}


# A sale's token in Core statements, so that it runs on the direct path as a card sale does.
_STS_ROW = select(*(getattr(m.StsMeter, c) for c in (*_IDENTITY, "last_tid"))) \
    .where(m.StsMeter.meter_id == bindparam("sts_meter_id"))
_ADVANCE_TID = update(m.StsMeter).where(m.StsMeter.meter_id == bindparam("sts_meter_id")) \
    .values(last_tid=bindparam("tid"))
_INSERT_TOKEN = insert(m.StsToken).values({c: bindparam(c) for c in (
    "meter_id", "vend_id", "kind", "position", "base_date", "tid", "value", "digits", "actor",
    "issued_at")}).returning(m.StsToken.id)


@contextmanager
def _one_line() -> Iterator[None]:
    """An identity, value or key the STS codec refuses: the centre's refusal (its sentence)."""
    try:
        yield
    except (StsError, ConfigError) as e:
        raise BillingError(str(e)) from None


@dataclass(frozen=True)
class _Issued:
    row: m.StsToken
    public_test_key: bool
    key_id: str


class StsDesk:
    """Keypad meters: identities, credit and management tokens, key changes, roll-over."""

    def __init__(self, uow: UnitOfWork, access: Access, keys: StsKeyService) -> None:
        self.uow = uow
        self.access = access
        self.keys = keys

    # -- identities -----------------------------------------------------------------------------

    def register(self, meter_no: str, identity: StsSection | dict[str, object], *,
                 actor: str = "system") -> StsSection:
        """Give a registered meter its STS identity (an administrator's change, audited);
        its sales then produce tokens. The decoder key is derived when a token is made."""
        ident = checked_identity(identity)
        with _one_line(), self.uow.transaction("register_sts_meter") as s:
            return self.attach(s, meter_no, ident, actor=actor)

    def attach(self, s: Session, meter_no: str, ident: StsSection, *,
               actor: str = "system") -> StsSection:
        """Write the meter's STS identity in the caller's transaction ``s`` (the registry's,
        when a keypad meter is registered with it: a refused identity leaves no meter)."""
        with _one_line():
            if actor != "system":
                self.access.require_administrator(s, actor, "register a meter's STS identity")
            meter = lookup.meter(s, meter_no, lock=True)
            check_currency_step(meter_no, meter.credit_unit, ident)
            if s.get(m.StsMeter, meter.id) is not None:
                raise Conflict(f"meter {meter_no} already has an STS identity")
            self.keys.decoder_key(ident)  # the centre must hold this DKGA's vending key
            row = m.StsMeter(meter_id=meter.id, pan=ident.pan, supply_group=ident.supply_group,
                             tariff_index=ident.tariff_index, key_revision=ident.key_revision,
                             key_type=ident.key_type, dkga=ident.dkga,
                             encryption=ident.encryption.value, base_date=ident.base_date,
                             last_tid=-1, currency_step=format(ident.currency_step, "f"))
            s.add(row)
            try:
                s.flush()
            except IntegrityError:
                raise Conflict(f"STS PAN {ident.pan} is already registered to another "
                               "meter") from None
            self.uow.audit(s, actor, "meter.sts_register", "meter", meter.id, None,
                           _identity_audit(row, meter_no))
            return ident

    def identity(self, meter_no: str) -> StsSection | None:
        """The meter's STS identity, or None for a card meter."""
        with self.uow.reading("sts_identity") as s:
            meter = lookup.meter(s, meter_no)
            row = s.get(m.StsMeter, meter.id)
            return None if row is None else identity_row(row)

    def tokens_of(self, meter_no: str) -> list[StsTokenInfo]:
        """Every token issued to the meter, oldest first."""
        with self.uow.reading("sts_tokens") as s:
            meter = lookup.meter(s, meter_no)
            rows = s.scalars(select(m.StsToken).where(m.StsToken.meter_id == meter.id)
                             .order_by(m.StsToken.id))
            return [token_info(t, meter_no) for t in rows]

    # -- tokens ---------------------------------------------------------------------------------

    def _issue(self, s: Session, sts: m.StsMeter, *, kind: str, subclass: int, value: int,
               shown: str, actor: str, now: datetime, vend_id: int | None) -> _Issued:
        """A TID-carrying management token: the next free minute as its TID, built, stored."""
        ident = identity_row(sts)
        tid, digits = self._made(ident, sts.last_tid, now, kind=kind, subclass=subclass,
                                 value=value)
        sts.last_tid = tid
        row = m.StsToken(meter_id=sts.meter_id, vend_id=vend_id, kind=kind, position=1,
                         base_date=ident.base_date, tid=tid, value=shown, digits=digits,
                         actor=actor, issued_at=now)
        s.add(row)
        s.flush()
        return _Issued(row, self.keys.public_test_key(ident.dkga), self.keys.key_id(ident.dkga))

    def _made(self, ident: StsSection, last_tid: int, now: datetime, *, kind: str,
              subclass: int, value: int) -> tuple[int, str]:
        """The next TID after ``last_tid`` (the minute of ``now`` at the earliest) and the
        token's 20 digits under the meter's decoder key (derived here and dropped)."""
        tid = max(self._minute(ident, now), last_tid + 1)
        if tid > TID_MAX:
            raise VendRefused("sts_tid_exhausted", self._rollover_needed(ident))
        issue = tokens.Issue(tk.issued_at_of(tid, ident.base_date), ident.base_date,
                             secrets.randbelow(16))
        key = self.keys.decoder_key(ident)
        if kind == "credit":
            step = tokens.CREDIT_KINDS[subclass][2]
            return tid, tokens.credit_token(key, ident.encryption, subclass=subclass,
                                            amount=Decimal(value) * step, issue=issue)
        return tid, tokens.management_token(key, ident.encryption, subclass=subclass,
                                            value=value, issue=issue)

    def _minute(self, ident: StsSection, now: datetime) -> int:
        minutes = int((now - tk.base_date(ident.base_date)).total_seconds() // 60)
        if minutes < 0:
            raise BillingError(f"{now.isoformat()} is before base date {ident.base_date}")
        return minutes

    def _rollover_needed(self, ident: StsSection) -> str:
        end = tk.issued_at_of(TID_MAX, ident.base_date).isoformat()
        return (f"meter PAN {ident.pan}: the TIDs of base date {ident.base_date} ended at "
                f"{end}; move its supply group {ident.supply_group} to the next base date "
                "(`rig billing sts rollover`) and have the key change tokens typed first")

    def issue_credit(self, db: SaleDb, *, meter_id: int, meter_no: str, vend_id: int,
                     credit: int, credit_unit: str, actor: str,
                     now: datetime) -> tuple[str, dict[str, Any]]:
        """The credit token of a sale, in the sale's own transaction (direct or ORM,
        :mod:`.sales.sale_db`): an electricity token (subclass 0, 0.1 kWh steps) for an energy
        meter, a currency token (subclass 4, steps of the meter's ``currency_step``) for a
        money meter. ``credit`` (Wh or cents) is what pricing let the token carry
        (:func:`carried`), exactly. Returns the digits and the ``sts.credit`` audit event
        (shaped, for the sale to append after its ``vend.create``)."""
        sts = db.one(_STS_ROW, {"sts_meter_id": meter_id})
        assert sts is not None
        ident = identity_row(sts)
        money = credit_unit == CreditUnit.MONEY_CENTS.value
        per = cents_per_step(ident.currency_step) if money else WH_PER_STEP
        assert per is not None  # registration refuses a money meter's fractional step
        count, rest = divmod(credit, per)
        if rest or amount_field.carried_at_most(count) != count:
            raise AssertionError(f"credit {credit} is not what a token carries")
        subclass = CURRENCY_SUBCLASS if money else 0
        tid, digits = self._made(ident, sts["last_tid"], now, kind="credit", subclass=subclass,
                                 value=count)
        db.execute(_ADVANCE_TID, {"sts_meter_id": meter_id, "tid": tid})
        shown = Decimal(count) * (ident.currency_step if money else tokens.CREDIT_KINDS[0][2])
        row = {"meter_id": meter_id, "vend_id": vend_id, "kind": "credit", "position": 1,
               "base_date": ident.base_date, "tid": tid, "value": format(shown, "f"),
               "digits": digits, "actor": actor, "issued_at": now}
        inserted = db.one(_INSERT_TOKEN, row)
        assert inserted is not None
        event = audit.shape(at=now, actor=actor, action="sts.credit", entity="sts_token",
                            entity_id=inserted["id"], after=_token_audit(
                                row, meter_no, self.keys.key_id(ident.dkga),
                                self.keys.public_test_key(ident.dkga)))
        return digits, event

    def _audit_token(self, s: Session, issued: _Issued, meter_no: str, actor: str) -> None:
        t = issued.row
        self.uow.audit(s, actor, f"sts.{t.kind}", "sts_token", t.id, None, _token_audit(
            {c: getattr(t, c) for c in _AUDITED}, meter_no, issued.key_id,
            issued.public_test_key))

    def management(self, meter_no: str, kind: str, value: int = 0, *,
                   operator: str) -> StsTokenInfo:
        """A supervisor's management token: ``power_limit`` (``value`` in W; 0 lifts the
        limit on rig's meters), ``clear_credit`` or ``clear_tamper``. Audited, never the digits."""
        if kind not in MANAGEMENT:
            raise BillingError(f"STS token kind {kind!r}: one of {', '.join(MANAGEMENT)}")
        if kind == "power_limit":
            if isinstance(value, bool) or not isinstance(value, int) or not \
                    0 <= value <= amount_field.MAX_COUNT:
                raise BillingError(f"power limit {value!r} W: a whole number of watts, 0 to "
                                   f"{amount_field.MAX_COUNT}")
            if amount_field.representable(value) != value:
                low = amount_field.carried_at_most(value)
                raise BillingError(f"power limit {value} W: a token carries {low} W or "
                                   f"{amount_field.representable(value)} W, not {value} W")
            field, shown = value, f"{value} W"
        else:
            field, shown = (0xFFFF if kind == "clear_credit" else 0), ""
        with _one_line(), self.uow.transaction("sts_management") as s:
            self.access.require_role(s, operator, f"issue an STS {kind} token")
            meter = lookup.meter(s, meter_no, lock=True)
            sts = self._sts(s, meter)
            issued = self._issue(s, sts, kind=kind, subclass=MANAGEMENT[kind], value=field,
                                 shown=shown, actor=operator, now=self.uow.now(), vend_id=None)
            self._audit_token(s, issued, meter_no, operator)
            return token_info(issued.row, meter_no)

    def _sts(self, s: Session, meter: m.Meter) -> m.StsMeter:
        sts = s.get(m.StsMeter, meter.id)
        if sts is None:
            raise NotFound(f"meter {meter.meter_no} has no STS identity (a card meter)")
        return sts

    def key_change(self, meter_no: str, *, operator: str, key_revision: int | None = None,
                   tariff_index: str | None = None, key_type: int | None = None,
                   supply_group: str | None = None, rollover: bool = False,
                   key_expiry: int = 255) -> list[StsTokenInfo]:
        """The decoder key change set (2 tokens for a 64-bit key, 4 for a 128-bit one), under
        the meter's current key, to the key of its new identity; the centre's record of the
        meter moves to it at once (tokens sold later are under the new key). ``rollover``:
        the new key starts the next base date (the TID roll-over remedy)."""
        with _one_line(), self.uow.transaction("sts_key_change") as s:
            self.access.require_role(s, operator, "issue STS key change tokens")
            meter = lookup.meter(s, meter_no, lock=True)
            return self._key_change(s, meter, operator=operator, key_revision=key_revision,
                                    tariff_index=tariff_index, key_type=key_type,
                                    supply_group=supply_group, rollover=rollover,
                                    key_expiry=key_expiry)

    def _key_change(self, s: Session, meter: m.Meter, *, operator: str,
                    key_revision: int | None, tariff_index: str | None, key_type: int | None,
                    supply_group: str | None, rollover: bool,
                    key_expiry: int) -> list[StsTokenInfo]:
        sts = self._sts(s, meter)
        old = identity_row(sts)
        base: int = old.base_date
        if rollover:
            later = [y for y in BASE_YEARS if y > old.base_date]
            if not later:
                raise BillingError(f"meter {meter.meter_no}: base date {old.base_date} is the "
                                   "last one STS defines; no roll-over beyond it")
            base = later[0]
            if tk.base_date(base) > self.uow.now():
                raise BillingError(f"meter {meter.meter_no}: base date {base} starts "
                                   f"{tk.base_date(base):%Y-%m-%d}; no token could be sold on "
                                   "it before then, so the roll-over waits")
        changes = {k: v for k, v in (("key_revision", key_revision),
                                     ("tariff_index", tariff_index), ("key_type", key_type),
                                     ("supply_group", supply_group)) if v is not None}
        new = identity_of(old.model_dump() | changes | {"base_date": base},
                          f"meter {meter.meter_no}'s new STS identity")
        if new.meter() == old.meter() and new.base_date == old.base_date:
            raise BillingError(f"meter {meter.meter_no}: the new key's identity is the old "
                               "one; change the key revision, tariff index, key type, supply "
                               "group or base date")
        digits = tokens.key_change_tokens(
            self.keys.decoder_key(old), old.encryption, tokens.KeyChange(
                self.keys.decoder_key(new), new.key_revision, new.key_type,
                new.tariff_index, key_expiry, rollover, new.supply_group))
        before = _identity_audit(sts, meter.meter_no)
        now = self.uow.now()
        rows = [m.StsToken(meter_id=meter.id, vend_id=None, kind="key_change", position=n,
                           base_date=old.base_date, tid=None, value=f"KRN {new.key_revision}",
                           digits=d, actor=operator, issued_at=now)
                for n, d in enumerate(digits, 1)]
        s.add_all(rows)
        sts.key_revision, sts.key_type = new.key_revision, new.key_type
        sts.tariff_index, sts.supply_group = new.tariff_index, new.supply_group
        if base != sts.base_date:
            sts.base_date, sts.last_tid = base, -1
        s.flush()
        self.uow.audit(s, operator, "sts.key_change", "meter", meter.id, before,
                       _identity_audit(sts, meter.meter_no) | {
                           "tokens": [r.id for r in rows], "rollover": rollover,
                           "vending_key_id": self.keys.key_id(new.dkga),
                           "public_test_key": self.keys.public_test_key(new.dkga)})
        return [token_info(r, meter.meter_no) for r in rows]

    def rollover(self, supply_group: str, *, operator: str,
                 before_base_date: int | None = None) -> dict[str, list[StsTokenInfo]]:
        """The TID roll-over for a whole supply group: every meter of ``supply_group`` still on
        an older base date gets a key change set with the
        roll-over flag and the next key revision; meter number → its tokens. The default
        ``before_base_date`` is the newest base date already begun (2014 until 2035). One
        transaction: all of the group or none."""
        with _one_line(), self.uow.transaction("sts_rollover") as s:
            self.access.require_role(s, operator, "roll a supply group over to a new base date")
            rows = s.execute(select(m.StsMeter, m.Meter).join(
                m.Meter, m.Meter.id == m.StsMeter.meter_id).where(
                m.StsMeter.supply_group == supply_group).order_by(m.Meter.meter_no)).all()
            if not rows:
                raise NotFound(f"no STS meter in supply group {supply_group!r}")
            now = self.uow.now()
            limit = before_base_date or max(y for y in BASE_YEARS if tk.base_date(y) <= now)
            out: dict[str, list[StsTokenInfo]] = {}
            for sts, meter in rows:
                if sts.base_date >= limit:
                    continue
                out[meter.meter_no] = self._key_change(
                    s, meter, operator=operator, key_revision=sts.key_revision % 9 + 1,
                    tariff_index=None, key_type=None, supply_group=None, rollover=True,
                    key_expiry=255)
            return out

    def token_of_vend(self, s: Session, vend_id: int) -> str | None:
        return s.scalar(select(m.StsToken.digits).where(m.StsToken.vend_id == vend_id))
