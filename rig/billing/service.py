"""Billing centre services: every public method is one database transaction.

Methods take and return plain values (:mod:`rig.billing.types`); ORM rows never escape a
session, so callers cannot accidentally lazy-load or mutate the ledger outside a transaction.
Refusals raise :class:`VendRefused` / :class:`BillingError` with a message for the operator.
"""

from __future__ import annotations

import hashlib
import re
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Engine, bindparam, func, insert, select, update
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.orm import Session, object_session, sessionmaker

from rig.billing import (
    agents,
    audit,
    audit_verify,
    hoarding,
    inputs,
    passwords,
    readback_check,
    tokens,
    vend_context,
)
from rig.billing import models as m
from rig.billing.audit_anchor import Anchoring
from rig.billing.audit_key import AuditConfig
from rig.billing.busy import busy_error
from rig.billing.db import lock_wait_seconds
from rig.billing.direct import Direct
from rig.billing.display import Display, display_locale, station_zone
from rig.billing.models import to_utc
from rig.billing.readback_keys import ReadbackKeyService
from rig.billing.reconcile import LedgerView, reconcile
from rig.billing.sale_db import DirectSale, NeedsSession, OrmSale, SaleDb
from rig.billing.storage import storage_error
from rig.billing.tariffs import CENT, TariffError, price_vend, validate_structure
from rig.billing.types import (
    ApiTokenInfo,
    Band,
    Block,
    CardInfo,
    CardStatus,
    CashierSessionInfo,
    Check,
    CreditUnit,
    CustomerInfo,
    DailySales,
    DebtInfo,
    HoardingCheck,
    IssuedToken,
    MeterInfo,
    MeterStatus,
    OperatorInfo,
    OperatorRole,
    ReadbackData,
    ReceiptLine,
    ReconciliationResult,
    StationInfo,
    TariffInfo,
    Tax,
    TokenHolder,
    VendLimits,
    VendResult,
    VendStatus,
    Verdict,
)
from rig.errors import BillingError

METER_NO = re.compile(r"[0-9]{12}")  # ASCII digits only (\d would take "１２")
_LOCK_METER = select(m.Meter.id).where(m.Meter.meter_no == bindparam("meter_no")) \
    .with_for_update()
_ADVANCE_METER = update(m.Meter).where(m.Meter.id == bindparam("meter_id")).values(
    last_sequence=bindparam("sequence"), change_balance=bindparam("change"))
_VEND_COLUMNS = (
    "request_id", "meter_id", "card_id", "station_id", "operator_id", "tariff_id", "amount",
    "credit", "credit_unit", "sequence", "tariff_version", "price_per_kwh", "key_revision",
    "receipt", "status", "created_at", "kind", "energy_charge", "tax_total", "fixed_charge",
    "debt_recovered", "change_in", "change_out", "tender", "session_id", "reprint_count",
    "reason")
_INSERT_VEND = insert(m.Vend).values({c: bindparam(c) for c in _VEND_COLUMNS}) \
    .returning(m.Vend.id)
UNAPPLIED = (VendStatus.CREATED.value, VendStatus.WRITTEN.value)
# Verified against when a login names nobody, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = "scrypt$16384$8$1$" + "A" * 22 + "==$" + "A" * 43 + "="


class VendRefused(BillingError):
    """A vend was refused; ``reason`` is a stable code, the message is for the operator."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class NotFound(BillingError):
    """A referenced customer, meter, card, tariff, operator, station or vend does not exist."""


class Conflict(BillingError):
    """The operation would duplicate or contradict an existing record."""


class PermissionDenied(BillingError):
    """The operator's role does not allow the operation."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


class BillingCentre:
    """The billing centre over one database. Build with :func:`rig.billing.open_billing`."""

    def __init__(
        self,
        engine: Engine,
        *,
        limits: VendLimits | None = None,
        clock: Callable[[], datetime] | None = None,
        audit_config: AuditConfig | None = None,
        readback_keys: ReadbackKeyService | None = None,
    ) -> None:
        self.engine = engine
        # The audit key and anchor (rig.billing.audit_key): never stored in the database.
        self.audit_config = audit_config or AuditConfig()
        self._audit_key = self.audit_config.key
        self._anchoring = Anchoring(self.audit_config) if self.audit_config.anchor else None
        # The key service that verifies readback MACs; None: every readback stays unverified.
        self.readback_keys = readback_keys
        self.limits = limits or VendLimits()
        self._clock = clock or _utcnow
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._postgres = engine.dialect.name == "postgresql"
        self._tariffs: dict[int, TariffInfo] = {}  # append-only versions, by id
        self._direct = Direct(engine)

    # -- plumbing ---------------------------------------------------------------------------

    def close(self) -> None:
        if self._anchoring is not None:
            self._anchoring.flush()
        self.engine.dispose()

    def __enter__(self) -> BillingCentre:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def now(self) -> datetime:
        return to_utc(self._clock())

    def _tx(self, operation: str | None = None) -> AbstractContextManager[Session]:
        """One transaction; ``operation`` (default: the calling method's name) is what a
        :class:`BillingBusy` names when the database stays locked too long."""
        return self._transaction(operation or sys._getframe(1).f_code.co_name)

    @contextmanager
    def _transaction(self, operation: str) -> Iterator[Session]:
        with self._busy_as(operation):
            with self._sessions.begin() as session:
                yield session
                appended = audit.write_deferred(session, self._audit_key)
            if appended is not None and self._anchoring is not None:  # committed
                self._anchoring.appended(appended)

    @contextmanager
    def _busy_as(self, operation: str) -> Iterator[None]:
        """A lock wait that ran out, in the block, as :class:`BillingBusy` naming
        ``operation``; a database that cannot store (read-only, full, I/O error, gone) as
        :class:`~rig.billing.storage.BillingStorageError`; any other database error as it is."""
        try:
            yield
        except DataError as e:  # e.g. NUL in text on PostgreSQL: nothing was written
            said = (str(e.orig).strip().splitlines() or ["refused"])[0][:200]
            raise inputs.InvalidInput(operation, f"the database cannot store a value of it "
                                                 f"({said}); nothing was committed") from None
        except DBAPIError as e:
            busy = busy_error(e, operation, self.engine.url.render_as_string(hide_password=True),
                              lock_wait_seconds(self.engine))
            failed = busy or storage_error(e, operation, self.engine.url)
            if failed is None:
                raise
            raise failed from e

    # -- master data -------------------------------------------------------------------------

    def register_customer(
        self, name: str, account_no: str, address: str = "", *, actor: str = "system"
    ) -> CustomerInfo:
        if not name.strip() or not account_no.strip():
            raise BillingError("customer name and account number are required")
        try:
            with self._tx() as s:
                row = m.Customer(
                    name=name, account_no=account_no, address=address, created_at=self.now()
                )
                s.add(row)
                s.flush()
                info = _customer_info(row)
                self._audit(s, actor, "customer.register", "customer", row.id, None, info)
                return info
        except IntegrityError:
            raise Conflict(f"customer account {account_no!r} already exists") from None

    def register_operator(
        self, name: str, role: OperatorRole | str, *, actor: str = "system"
    ) -> OperatorInfo:
        role = _enum(OperatorRole, role, "operator role")
        try:
            with self._tx() as s:
                row = m.Operator(name=name, role=role.value)
                s.add(row)
                s.flush()
                info = OperatorInfo(row.id, row.name, OperatorRole(row.role))
                self._audit(s, actor, "operator.register", "operator", row.id, None, info)
                return info
        except IntegrityError:
            raise Conflict(f"operator {name!r} already exists") from None

    def register_station(self, code: str, *, actor: str = "system") -> StationInfo:
        try:
            with self._tx() as s:
                row = m.Station(code=code)
                s.add(row)
                s.flush()
                self._audit(s, actor, "station.register", "station", row.id, None,
                            {"code": code})
                return StationInfo(row.id, row.code)
        except IntegrityError:
            raise Conflict(f"station {code!r} already exists") from None

    def create_tariff(
        self,
        code: str,
        price_per_kwh: Decimal,
        effective_from: datetime,
        version: int | None = None,
        *,
        kind: str = "flat",
        blocks: tuple[Block, ...] = (),
        bands: tuple[Band, ...] = (),
        utc_offset_minutes: int = 0,
        fixed_monthly: Decimal = Decimal("0.00"),
        taxes: tuple[Tax, ...] = (),
        actor: str = "system",
    ) -> TariffInfo:
        """Add a version of tariff ``code`` (next version number unless given).

        Versions are append-only: a price change is a new version with a later
        ``effective_from``, so past vends keep pointing at the price they were sold at.
        ``price_per_kwh`` is the flat rate, or for block/TOU the rate a money meter would
        apply (shown on the card). ``actor``, if an operator, must not be a cashier.
        """
        price = inputs.check_price(_decimal(price_per_kwh, "price_per_kwh"), "price_per_kwh")
        fixed = _decimal(fixed_monthly, "fixed_monthly")
        if not fixed.is_finite() or fixed.adjusted() >= inputs.MONEY_DIGITS or fixed < 0 \
                or fixed != fixed.quantize(CENT):
            raise BillingError(f"fixed monthly charge {fixed} must be ≥ 0 in whole cents")
        if version is not None:
            inputs.check_tariff_version(version)
        inputs.check_instant(effective_from, "effective_from")
        inputs.check_int(utc_offset_minutes, "utc_offset_minutes", -inputs.OFFSET_MINUTES_MAX,
                         inputs.OFFSET_MINUTES_MAX)
        for i, b in enumerate(blocks):
            inputs.check_price(_decimal(b.price_per_kwh, "price"), f"blocks[{i}].price_per_kwh")
        for i, band in enumerate(bands):
            inputs.check_price(_decimal(band.price_per_kwh, "price"),
                               f"bands[{i}].price_per_kwh")
        for i, t in enumerate(taxes):
            inputs.check_label(t.name, f"taxes[{i}].name")
            rate = _decimal(t.rate_percent, f"taxes[{i}].rate_percent")
            if not rate.is_finite() or not (0 <= rate <= 100) or rate != rate.quantize(
                Decimal("0.0001")
            ):
                raise BillingError(f"tax {t.name}: rate {t.rate_percent}% must be 0…100, 4 dp")
        try:
            validate_structure(kind, blocks, bands)
        except TariffError as e:
            raise BillingError(f"tariff {code}: {e}") from None
        structure: dict[str, Any] = {}
        if kind == "block":
            structure["blocks"] = [
                {"up_to_wh": b.up_to_wh, "price_per_kwh": str(b.price_per_kwh)} for b in blocks
            ]
        if kind == "tou":
            structure["bands"] = [
                {"name": b.name, "start_minute": b.start_minute, "end_minute": b.end_minute,
                 "price_per_kwh": str(b.price_per_kwh)} for b in bands
            ]
            structure["utc_offset_minutes"] = utc_offset_minutes
        try:
            with self._tx() as s:
                if version is None:
                    latest = s.scalar(
                        select(m.Tariff.version)
                        .where(m.Tariff.code == code)
                        .order_by(m.Tariff.version.desc())
                        .limit(1)
                    )
                    version = inputs.check_tariff_version((latest or 0) + 1)
                self._require_role(s, actor, "change tariffs", allow_system=True)
                row = m.Tariff(
                    code=code,
                    version=version,
                    price_per_kwh=price,
                    effective_from=to_utc(effective_from),
                    created_at=self.now(),
                    kind=kind,
                    structure=structure,
                    fixed_monthly=fixed,
                    taxes=[{"name": t.name, "rate_percent": str(t.rate_percent)} for t in taxes],
                )
                s.add(row)
                s.flush()
                info = _tariff_info(row)
                self._audit(s, actor, "tariff.create", "tariff", row.id, None, info)
                return info
        except IntegrityError:
            raise Conflict(f"tariff {code} version {version} already exists") from None

    def register_meter(
        self,
        meter_no: str,
        *,
        customer_account: str,
        profile: str,
        credit_unit: CreditUnit | str,
        tariff_code: str,
        key_revision: int,
        commissioning_energy_wh: int,
        commissioned_at: datetime,
        hoarding_limit: int | None = None,
        actor: str = "system",
    ) -> MeterInfo:
        """Register a meter. ``hoarding_limit`` (credit units of ``credit_unit``, as the meter
        profile's) makes the centre refuse vends the meter would refuse; None: not checked."""
        if not isinstance(meter_no, str) or not METER_NO.fullmatch(meter_no):
            raise BillingError(f"meter number {meter_no!r} must be exactly 12 digits (0-9)")
        inputs.check_profile_name(profile)
        unit = _enum(CreditUnit, credit_unit, "credit unit")
        # What the meter's card records cannot carry is refused now, not at the first sale.
        inputs.check_key_revision(key_revision)
        inputs.check_energy(commissioning_energy_wh, "commissioning_energy_wh")
        inputs.check_instant(commissioned_at, "commissioned_at")
        _check_hoarding_limit(hoarding_limit, unit)
        try:
            with self._tx() as s:
                customer = s.scalar(
                    select(m.Customer).where(m.Customer.account_no == customer_account)
                )
                if customer is None:
                    raise NotFound(f"no customer with account {customer_account!r}")
                tariff = _tariff_in_effect(s, tariff_code, self.now()) or s.scalar(
                    select(m.Tariff)
                    .where(m.Tariff.code == tariff_code)
                    .order_by(m.Tariff.version)
                    .limit(1)
                )
                if tariff is None:
                    raise NotFound(f"no tariff with code {tariff_code!r}")
                row = m.Meter(
                    meter_no=meter_no,
                    customer=customer,
                    profile=profile,
                    credit_unit=unit.value,
                    tariff=tariff,
                    key_revision=key_revision,
                    commissioning_energy_wh=int(commissioning_energy_wh),
                    commissioned_at=to_utc(commissioned_at),
                    last_sequence=0,
                    status=MeterStatus.ACTIVE.value,
                    created_at=self.now(),
                    hoarding_limit=hoarding_limit,
                )
                s.add(row)
                s.flush()
                info = _meter_info(row)
                self._audit(s, actor, "meter.register", "meter", row.id, None, info)
                return info
        except IntegrityError:
            raise Conflict(f"meter {meter_no} is already registered") from None

    def set_meter_status(
        self, meter_no: str, status: MeterStatus | str, *, actor: str = "system"
    ) -> MeterInfo:
        """Block or unblock a meter (a blocked meter cannot be vended to)."""
        status = _enum(MeterStatus, status, "meter status")
        with self._tx() as s:
            meter = _meter(s, meter_no)
            before = _meter_info(meter)
            meter.status = status.value
            after = _meter_info(meter)
            self._audit(s, actor, "meter.status", "meter", meter.id, before, after)
            return after

    def set_hoarding_limit(
        self, meter_no: str, hoarding_limit: int | None, *, actor: str = "system"
    ) -> MeterInfo:
        """Change (or with None remove) a meter's hoarding limit; an administrator's change,
        audited with the limit before and after."""
        with self._tx() as s:
            if actor != "system":
                self._require_administrator(s, actor, "change a meter's hoarding limit")
            meter = _meter(s, meter_no)
            _check_hoarding_limit(hoarding_limit, CreditUnit(meter.credit_unit))
            before = {"meter_no": meter_no, "hoarding_limit": meter.hoarding_limit}
            meter.hoarding_limit = hoarding_limit
            self._audit(s, actor, "meter.hoarding_limit", "meter", meter.id, before,
                        {"meter_no": meter_no, "hoarding_limit": hoarding_limit})
            return _meter_info(meter)

    def hoarding(self, meter_no: str) -> HoardingCheck:
        """The meter's hoarding limit, the centre's estimate of its credit and the most that
        can be vended now (see :mod:`rig.billing.hoarding`)."""
        with self._tx() as s:
            meter = _meter(s, meter_no)
            estimated = _estimated_credit(s, meter.id)
            return HoardingCheck(meter_no, meter.hoarding_limit, estimated,
                                 hoarding.room(meter.hoarding_limit, estimated))

    def issue_card(
        self, meter_no: str, card_serial: str, card_type: str = "customer", *,
        actor: str = "system",
    ) -> CardInfo:
        """Bind a new card to a meter. One active card per meter (replacement comes later)."""
        card_type = inputs.check_card_kind(card_type).value
        try:
            with self._tx() as s:
                meter = _meter(s, meter_no)
                if _active_card(s, meter) is not None:
                    raise Conflict(f"meter {meter_no} already has an active card")
                row = m.Card(
                    card_serial=card_serial,
                    meter=meter,
                    card_type=card_type,
                    status=CardStatus.ACTIVE.value,
                    issued_at=self.now(),
                )
                s.add(row)
                s.flush()
                info = _card_info(row)
                self._audit(s, actor, "card.issue", "card", row.id, None, info)
                return info
        except IntegrityError:
            raise Conflict(f"card {card_serial} is already issued") from None

    def set_card_status(
        self, card_serial: str, status: CardStatus | str, *, actor: str = "system"
    ) -> CardInfo:
        status = _enum(CardStatus, status, "card status")
        with self._tx() as s:
            card = s.scalar(select(m.Card).where(m.Card.card_serial == card_serial))
            if card is None:
                raise NotFound(f"no card {card_serial}")
            before = _card_info(card)
            card.status = status.value
            after = _card_info(card)
            self._audit(s, actor, "card.status", "card", card.id, before, after)
            return after

    # -- vending -----------------------------------------------------------------------------

    def vend(
        self,
        meter_no: str,
        amount: Decimal,
        *,
        request_id: str,
        station: str,
        operator: str,
        require_session: bool = False,
    ) -> VendResult:
        """Sell credit for ``amount`` to ``meter_no`` and allocate its next purchase sequence.

        Idempotent by ``request_id``: a retry (lost reply, crashed writer) returns the original
        vend; the same id with different parameters is refused rather than guessed at.
        ``require_session``: refuse (``no_open_session``) unless ``operator`` has a cashier
        session open at ``station``, checked under the sale's lock (the REST API and the
        console ask it of cashiers).
        """
        if not isinstance(amount, Decimal | int) or isinstance(amount, bool):
            raise VendRefused(
                "amount_invalid", f"amount must be a Decimal, got {type(amount).__name__}"
            )
        amount = Decimal(amount)
        if not request_id:
            raise VendRefused("request_id_missing", "a vend needs a client request id")
        try:
            direct = self._direct_sale(meter_no, amount, request_id, station, operator,
                                       require_session)
            if direct is not None:
                return direct
            with self._tx() as s:  # a retry is recognised (and replayed) by _new_vend
                return self._new_vend(OrmSale(s), meter_no, amount, request_id, station,
                                      operator, require_session=require_session)
        except IntegrityError:
            # A concurrent writer used this request id (or sequence) first: replay its result.
            with self._tx() as s:
                existing = s.scalar(select(m.Vend).where(m.Vend.request_id == request_id))
                if existing is None:
                    raise Conflict(
                        f"another station vended to meter {meter_no} at the same moment; "
                        "retry the purchase"
                    ) from None
                return self._replay(existing, meter_no, amount, station, operator)

    def _replay(
        self, vend: m.Vend, meter_no: str, amount: Decimal, station: str, operator: str
    ) -> VendResult:
        same = (
            vend.meter.meter_no == meter_no
            and vend.amount == amount
            and vend.station.code == station
            and vend.operator.name == operator
        )
        if not same:
            raise VendRefused(
                "request_id_conflict",
                f"request id {vend.request_id!r} was already used for a different vend "
                f"(meter {vend.meter.meter_no}, amount {vend.amount})",
            )
        return _vend_result(vend, _parameters_of(vend))

    def _direct_sale(self, meter_no: str, amount: Decimal, request_id: str, station: str,
                     operator: str, require_session: bool = False) -> VendResult | None:
        """The sale in a direct transaction (:mod:`rig.billing.direct`); None when it needs
        the ORM (:mod:`rig.billing.sale_db`) and nothing was written."""
        try:
            with self._busy_as("vend"):
                with self._direct.transaction() as tx:
                    sale = DirectSale(tx, postgres=self._postgres, key=self._audit_key)
                    result = self._new_vend(sale, meter_no, amount, request_id, station,
                                            operator, require_session=require_session)
                if sale.appended is not None and self._anchoring is not None:  # committed
                    self._anchoring.appended(sale.appended)
                return result
        except NeedsSession:
            return None

    def _new_vend(
        self,
        db: SaleDb,
        meter_no: str,
        amount: Decimal,
        request_id: str,
        station_code: str,
        operator_name: str,
        tender: str = "cash",
        *,
        require_session: bool = False,
    ) -> VendResult:
        """Check, price and record one sale in the caller's transaction.

        The hot path of the centre, kept lean: one locked read of everything the checks need
        (:mod:`rig.billing.vend_context`), the tariff version from a per-centre cache (versions
        are append-only), then three writes (meter, vend, audit) with Core statements, and the
        result built from the values written rather than read back. Rare parts (debts, agents,
        queued parameters) use the ORM (``db.session``) only when the context says they exist.
        ORM objects of this meter loaded earlier in the session do not see the new sequence.
        """
        if self._postgres:
            # Lock the meter row so two stations cannot take the same sequence; the context
            # is read after it (SQLite: BEGIN IMMEDIATE has serialised the transaction).
            db.execute(_LOCK_METER, {"meter_no": meter_no})
        now = self.now()
        ctx = vend_context.fetch(
            db.one, meter_no=meter_no, request_id=request_id, station=station_code,
            operator=operator_name, now=now,
            month_start=datetime(now.year, now.month, 1, tzinfo=UTC),
            with_audit_head=not self._postgres)
        if ctx is None or ctx.existing_vend_id is not None:
            # A retry committed meanwhile (seen only now, under the lock) is replayed.
            s = db.session
            late = _committed_meanwhile(s, request_id)
            if late is not None:
                return self._replay(late, meter_no, amount, station_code, operator_name)
            raise VendRefused("unknown_meter", f"meter {meter_no} is not registered")
        if (require_session and ctx.session_id is None and ctx.station_id is not None
                and ctx.operator_id is not None):  # who may sell here, before what is sold
            raise VendRefused(
                "no_open_session",
                f"operator {operator_name!r} has no cashier session open at station "
                f"{station_code!r}: open one there (count the float) before selling")
        self._check_amount(amount)
        if ctx.status != MeterStatus.ACTIVE.value:
            raise VendRefused("meter_blocked", f"meter {meter_no} is blocked")
        if ctx.card_id is None:
            raise VendRefused("no_active_card", f"meter {meter_no} has no active card")
        if ctx.pending_sequence is not None:
            pending = db.session.scalar(select(m.Vend).where(
                m.Vend.meter_id == ctx.meter_id, m.Vend.sequence == ctx.pending_sequence))
            assert pending is not None
            raise VendRefused(
                "unapplied_purchase",
                f"card {ctx.card_serial} still carries purchase #{pending.sequence} "
                f"({pending.status}, request {pending.request_id}); insert it in meter "
                f"{meter_no} and read it back before selling again",
            )
        if ctx.station_id is None:
            raise VendRefused("unknown_station", f"station {station_code!r} is not registered")
        if ctx.operator_id is None:
            raise VendRefused("unknown_operator", f"operator {operator_name!r} is not registered")
        if ctx.tariff_id is None:
            raise VendRefused(
                "no_tariff_in_effect", f"tariff {ctx.tariff_code} has no version in effect"
            )
        info = self._tariff(db, ctx.tariff_id)
        fixed_sold = Decimal(0)
        if info.fixed_monthly > 0:
            fixed_sold = sum(db.session.scalars(select(m.Vend.fixed_charge).where(
                m.Vend.meter_id == ctx.meter_id,
                m.Vend.created_at >= datetime(now.year, now.month, 1, tzinfo=UTC),
                m.Vend.status != VendStatus.REVERSED.value, m.Vend.kind == "sale")),
                Decimal(0))
        debts = db.session.scalars(
            select(m.Debt).where(m.Debt.meter_id == ctx.meter_id, m.Debt.outstanding > 0)
            .order_by(m.Debt.id)
        ).all() if ctx.has_debts else []
        try:
            pricing = price_vend(
                amount,
                info,
                ctx.credit_unit,
                change_in=ctx.change_balance,
                month_energy_wh=ctx.month_credit
                if ctx.credit_unit == CreditUnit.ENERGY_WH.value else 0,
                fixed_due=max(info.fixed_monthly - fixed_sold, Decimal(0)),
                debts=[_debt_info(d, meter_no) for d in debts],
                at=now,
            )
        except TariffError as e:
            raise VendRefused("tariff_unusable", str(e)) from None
        if pricing.credit <= 0:
            raise VendRefused(
                "credit_zero",
                f"amount {amount} buys less than one credit unit after charges and debt",
            )
        if pricing.credit > inputs.CREDIT_MAX:
            raise VendRefused(
                "credit_above_card_limit",
                f"amount {amount} buys {pricing.credit} credit units; a purchase record holds "
                f"at most {inputs.CREDIT_MAX}")
        _refuse_over_hoarding(meter_no, ctx.hoarding_limit,
                              hoarding.estimate(ctx.readback_balance, [ctx.unconfirmed_credit]),
                              pricing.credit, ctx.credit_unit)
        try:
            agent = (agents.check_float(db.session, ctx.station_id, amount)
                     if tender == "cash" and ctx.has_agent else None)
        except agents.FloatExceeded as e:
            raise VendRefused("agent_float_exceeded", str(e)) from None
        sequence = ctx.last_sequence + 1
        db.execute(_ADVANCE_METER, {"meter_id": ctx.meter_id, "sequence": sequence,
                                    "change": pricing.change_out})
        receipt = [{"label": c.label, "amount": str(c.amount), "detail": c.detail}
                   for c in pricing.components]
        inserted = db.one(_INSERT_VEND, {
            "request_id": request_id, "meter_id": ctx.meter_id, "card_id": ctx.card_id,
            "station_id": ctx.station_id, "operator_id": ctx.operator_id,
            "tariff_id": ctx.tariff_id, "amount": amount, "credit": pricing.credit,
            "credit_unit": ctx.credit_unit, "sequence": sequence,
            "tariff_version": info.version, "price_per_kwh": info.price_per_kwh,
            "key_revision": ctx.key_revision, "receipt": receipt,
            "status": VendStatus.CREATED.value, "created_at": now, "kind": "sale",
            "energy_charge": pricing.energy_charge, "tax_total": pricing.tax_total,
            "fixed_charge": pricing.fixed_charge,
            "debt_recovered": sum((a for _, a in pricing.debt_recovered), Decimal(0)),
            "change_in": pricing.change_in, "change_out": pricing.change_out,
            "tender": tender, "session_id": ctx.session_id, "reprint_count": 0,
            "reason": None,
        })
        assert inserted is not None
        vend_id = inserted["id"]
        if agent is not None:
            drawn = agents.draw(db.session, agent, vend_id, amount, meter_no, operator_name, now)
            self._audit_agent_entry(db.session, operator_name, "agent.draw", drawn)
        by_id = {d.id: d for d in debts}
        for debt_id, taken in pricing.debt_recovered:
            by_id[debt_id].outstanding -= taken
            db.session.add(m.DebtRecovery(vend_id=vend_id, debt_id=debt_id, amount=taken))
            self._audit(db.session, operator_name, "debt.recover", "debt", debt_id, None,
                        {"vend_id": vend_id, "amount": taken})
        result = VendResult(
            vend_id=vend_id, request_id=request_id, meter_no=meter_no,
            card_serial=ctx.card_serial or "", sequence=sequence, credit=pricing.credit,
            credit_unit=CreditUnit(ctx.credit_unit), amount=amount,
            tariff_code=info.code, tariff_version=info.version,
            price_per_kwh=info.price_per_kwh, key_revision=ctx.key_revision,
            receipt=pricing.components,
            status=VendStatus.CREATED, station=station_code, operator=operator_name,
            created_at=now, kind="sale",
            parameters=_pending_parameters(db.session, ctx.meter_id) if ctx.has_parameters
            else None,
            reprint_count=0, tender=tender,
        )
        db.audit(audit.shape(at=now, actor=operator_name, action="vend.create", entity="vend",
                             entity_id=vend_id, after=result), ctx.audit_head)
        return result

    def _check_amount(self, amount: Decimal) -> None:
        limits = self.limits
        if not amount.is_finite():
            raise VendRefused("amount_invalid", f"amount {amount} is not a finite number")
        if amount > limits.maximum:  # before quantize(), which 1E+999 would overflow
            raise VendRefused(
                "amount_above_maximum", f"amount {amount} is above the maximum {limits.maximum}"
            )
        if amount <= 0:
            raise VendRefused("amount_not_positive", f"amount {amount} must be greater than 0")
        if amount != amount.quantize(CENT):
            raise VendRefused("amount_invalid", f"amount {amount} has fractions of a cent")
        if amount < limits.minimum:
            raise VendRefused(
                "amount_below_minimum", f"amount {amount} is below the minimum {limits.minimum}"
            )
        if amount > limits.maximum:
            raise VendRefused(
                "amount_above_maximum", f"amount {amount} is above the maximum {limits.maximum}"
            )

    def _tariff(self, db: SaleDb, tariff_id: int) -> TariffInfo:
        """A tariff version by id; versions never change once created, so each is read once
        per centre (through the ORM: a direct sale that misses the cache hands over)."""
        info = self._tariffs.get(tariff_id)
        if info is None:
            row = db.session.get(m.Tariff, tariff_id)
            assert row is not None
            info = self._tariffs[tariff_id] = _tariff_info(row)
        return info

    def mark_written(self, vend_id: int) -> None:
        """Record that the card writer reported success. Repeating it is harmless."""
        with self._tx() as s:
            vend = s.get(m.Vend, _row_id(vend_id))
            if vend is None:
                raise NotFound(f"no vend {vend_id}")
            if vend.status == VendStatus.REVERSED.value:
                raise BillingError(f"vend {vend_id} was reversed; it cannot be marked written")
            if vend.status == VendStatus.CREATED.value:
                before = {"status": vend.status}
                vend.status = VendStatus.WRITTEN.value
                vend.written_at = self.now()
                for change in s.scalars(select(m.ParameterChange).where(
                    m.ParameterChange.meter_id == vend.meter_id,
                    m.ParameterChange.status == "queued",
                )):
                    change.status = "written"
                    change.vend_id = vend.id
                    change.written_at = vend.written_at
                self._audit(s, "station", "vend.written", "vend", vend.id, before,
                            {"status": vend.status})

    # -- vend life -------------------------------------------------------------------------

    def free_issue(
        self, meter_no: str, credit: int, *, request_id: str, station: str, operator: str,
        reason: str,
    ) -> VendResult:
        """Give ``credit`` units without payment (emergency, compensation); supervisor only.

        It is a vend of amount 0 with the meter's next sequence, so it travels on the card and
        is confirmed by a readback like any other; it is excluded from sales and block usage.
        """
        if isinstance(credit, bool) or not isinstance(credit, int) \
                or not 0 < credit <= inputs.CREDIT_MAX:
            raise VendRefused("credit_invalid", f"free issue credit {credit!r} must be a whole "
                                                f"number in 1..{inputs.CREDIT_MAX}")
        if not reason.strip():
            raise VendRefused("reason_missing", "a free issue needs a reason")
        with self._tx() as s:
            self._require_role(s, operator, "give a free issue")
            meter = s.scalar(select(m.Meter).where(m.Meter.meter_no == meter_no).with_for_update())
            # Looked up after the meter lock, so a concurrent retry that committed meanwhile
            # is replayed rather than refused as an unapplied purchase.
            existing = _committed_meanwhile(s, request_id)
            if existing is not None:
                if existing.kind != "free" or existing.credit != credit:
                    raise VendRefused("request_id_conflict",
                                      f"request id {request_id!r} was used for another vend")
                return _vend_result(existing)
            if meter is None:
                raise VendRefused("unknown_meter", f"meter {meter_no} is not registered")
            card, st, op_row = self._vend_parties(s, meter, station, operator)
            _refuse_hoarding(s, meter, credit)
            tariff = _tariff_in_effect(s, meter.tariff.code, self.now()) or meter.tariff
            meter.last_sequence += 1
            vend = m.Vend(
                request_id=request_id, meter=meter, card=card, station=st, operator=op_row,
                tariff=tariff, amount=Decimal("0.00"), credit=credit,
                credit_unit=meter.credit_unit, sequence=meter.last_sequence,
                tariff_version=tariff.version, price_per_kwh=tariff.price_per_kwh,
                key_revision=meter.key_revision,
                receipt=[{"label": "free", "amount": "0.00",
                          "detail": f"free issue of {credit} {meter.credit_unit}: {reason}"}],
                status=VendStatus.CREATED.value, created_at=self.now(), kind="free",
                reason=reason,
            )
            s.add(vend)
            s.flush()
            result = _vend_result(vend, _pending_parameters(s, meter.id))
            self._audit(s, operator, "vend.free_issue", "vend", vend.id, None, result)
            return result

    def reverse_vend(self, vend_id: int, *, operator: str, reason: str) -> VendResult:
        """Cancel a vend no readback has confirmed (supervisor or administrator).

        The sequence number stays used (never reissued: a card that already carries it must
        not apply a different purchase). Debt recovered by it is owed again, the meter's change
        goes back to what it was before, bank payments it vended are pending again and
        parameters written with it are queued again. If the card did reach the meter after all,
        the next readback shows the sequence applied and reconciliation flags it.
        """
        if not reason.strip():
            raise BillingError("a reversal needs a reason")
        with self._tx() as s:
            supervisor = self._require_role(s, operator, "reverse a vend")
            vend = s.get(m.Vend, _row_id(vend_id))
            if vend is None:
                raise NotFound(f"no vend {vend_id}")
            if vend.status not in UNAPPLIED:
                raise Conflict(f"vend {vend_id} is {vend.status}; only an unconfirmed vend "
                               "can be reversed")
            before = _vend_result(vend)
            meter = s.scalar(select(m.Meter).where(m.Meter.id == vend.meter_id).with_for_update())
            assert meter is not None
            for rec in s.scalars(select(m.DebtRecovery).where(m.DebtRecovery.vend_id == vend.id)):
                debt = s.get(m.Debt, rec.debt_id)
                assert debt is not None
                debt.outstanding += rec.amount
                self._audit(s, operator, "debt.restore", "debt", debt.id, None,
                            {"vend_id": vend.id, "amount": rec.amount})
            if vend.kind == "sale":
                meter.change_balance = vend.change_in
            for payment in s.scalars(select(m.BankPayment).where(m.BankPayment.vend_id == vend.id)):
                if payment.status == "returned":  # the bank took it back: it is owed as debt
                    raise Conflict(
                        f"vend {vend_id} was paid by bank payment {payment.entry_ref}, which the "
                        f"bank has since returned and is owed as debt {payment.debt_id}; the "
                        "vend cannot be reversed (its payment would become credit again)")
                payment.status, payment.vend_id = "pending", None  # paid money is owed as credit
            for change in s.scalars(select(m.ParameterChange).where(
                    m.ParameterChange.vend_id == vend.id)):  # they ride on the next card again
                change.status, change.vend_id, change.written_at = "queued", None, None
            refunded = agents.refund(s, vend, operator, self.now())
            if refunded is not None:
                self._audit_agent_entry(s, operator, "agent.refund", refunded)
            vend.status = VendStatus.REVERSED.value
            vend.reversed_at = self.now()
            vend.reversed_by_id = supervisor.id
            vend.reason = reason
            after = _vend_result(vend)
            self._audit(s, operator, "vend.reverse", "vend", vend.id, before,
                        {**asdict(after), "reason": reason})
            return after

    def reprint(self, vend_id: int, *, operator: str, display: Display | None = None) -> str:
        """The vend's receipt again, marked as the n-th reprint (counted and audited), in the
        centre's currency and ``display``'s zone (default: this station's, see
        :mod:`rig.billing.display`) — the same rows as the first print."""
        from rig.billing.receipts import receipt_text

        with self._tx() as s:
            self._operator(s, operator)
            vend = s.get(m.Vend, _row_id(vend_id))
            if vend is None:
                raise NotFound(f"no vend {vend_id}")
            vend.reprint_count += 1
            self._audit(s, operator, "vend.reprint", "vend", vend.id, None,
                        {"reprint": vend.reprint_count})
            if display is None:
                currency = s.scalar(select(m.CentreSetting.value)
                                    .where(m.CentreSetting.name == "currency"))
                display = Display(currency, station_zone(), display_locale())
            return receipt_text(_vend_result(vend), display)

    def replace_card(
        self, meter_no: str, new_card_serial: str, *, operator: str, reason: str = "lost",
    ) -> tuple[CardInfo, tuple[VendResult, ...]]:
        """Issue a new card for a meter whose card is lost or damaged.

        The old card becomes ``lost`` (reason "lost") or ``replaced``; unconfirmed vends move to
        the new card with their **same sequence numbers** and back to ``created``, so the
        station writes them again. Should the old card turn up, the meter ignores its copy
        (the sequence is no longer new): the credit can be applied once only.
        """
        with self._tx() as s:
            self._operator(s, operator)
            meter = s.scalar(select(m.Meter).where(m.Meter.meter_no == meter_no).with_for_update())
            if meter is None:
                raise NotFound(f"meter {meter_no} is not registered")
            old = _active_card(s, meter)
            if old is not None:
                before = _card_info(old)
                old.status = (CardStatus.LOST if reason == "lost" else CardStatus.REPLACED).value
                self._audit(s, operator, "card.retire", "card", old.id, before,
                            {**asdict(_card_info(old)), "reason": reason})
            new = m.Card(card_serial=new_card_serial, meter=meter, card_type="customer",
                         status=CardStatus.ACTIVE.value, issued_at=self.now())
            s.add(new)
            try:
                s.flush()
            except IntegrityError:
                raise Conflict(f"card {new_card_serial} is already issued") from None
            moved = []
            for v in s.scalars(select(m.Vend).where(
                m.Vend.meter_id == meter.id, m.Vend.status.in_(UNAPPLIED)
            ).order_by(m.Vend.sequence)):
                before_v = {"card": v.card.card_serial, "status": v.status}
                v.card = new
                v.status = VendStatus.CREATED.value
                v.written_at = None
                self._audit(s, operator, "vend.move_card", "vend", v.id, before_v,
                            {"card": new_card_serial, "status": v.status})
                moved.append(v)
            s.flush()
            info = _card_info(new)
            self._audit(s, operator, "card.issue", "card", new.id, None, info)
            pending = _pending_parameters(s, meter.id)
            return info, tuple(_vend_result(v, pending) for v in moved)

    def queue_parameters(self, meter_no: str, *, operator: str, **params: int) -> dict[str, Any]:
        """Queue meter parameters (``alarm1``, ``alarm2`` in credit units) for the next card
        write. They appear on ``VendResult.parameters`` of every vend until one is marked
        written, and in :meth:`pending_parameters`; returns the merged pending set."""
        allowed = {"alarm1", "alarm2"}
        unknown = set(params) - allowed
        if unknown or not params:
            raise BillingError(
                f"parameters must be some of {sorted(allowed)}, got {sorted(params)}")
        for k, v in params.items():
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise BillingError(f"parameter {k}={v!r} must be a non-negative int")
            inputs.check_credit(v, k)
        with self._tx() as s:
            self._require_role(s, operator, "change meter parameters")
            meter = _meter(s, meter_no)
            merged = {**(_pending_parameters(s, meter.id) or {}), **params}
            if "alarm1" in merged and "alarm2" in merged and merged["alarm2"] > merged["alarm1"]:
                raise BillingError(f"alarm2 {merged['alarm2']} would be above alarm1 "
                                   f"{merged['alarm1']} on meter {meter_no}")
            row = m.ParameterChange(meter_id=meter.id, params=dict(params), status="queued",
                                    actor=operator, created_at=self.now())
            s.add(row)
            s.flush()
            self._audit(s, operator, "parameters.queue", "meter", meter.id, None, dict(params))
            return _pending_parameters(s, meter.id) or {}

    def pending_parameters(self, meter_no: str) -> dict[str, Any] | None:
        """Parameters waiting for the meter's next card write (None if nothing is queued)."""
        with self._tx() as s:
            return _pending_parameters(s, _meter(s, meter_no).id)

    def add_debt(
        self, meter_no: str, principal: Decimal, description: str, *,
        recovery_percent: Decimal = Decimal(0), recovery_fixed: Decimal = Decimal("0.00"),
        operator: str = "system",
    ) -> DebtInfo:
        """Record arrears to recover from the meter's purchases (percent and/or fixed per vend)."""
        principal = _decimal(principal, "principal")
        pct = _decimal(recovery_percent, "recovery_percent")
        fixed = _decimal(recovery_fixed, "recovery_fixed")
        if principal <= 0 or principal != principal.quantize(CENT):
            raise BillingError(f"debt principal {principal} must be positive whole cents")
        if not (0 <= pct <= 100) or (pct == 0 and fixed == 0) or fixed < 0:
            raise BillingError("debt recovery needs a percent in 0…100 and/or a positive fixed "
                               f"amount (got {pct}% and {fixed})")
        with self._tx() as s:
            self._require_role(s, operator, "record a debt", allow_system=True)
            return self._record_debt(s, _meter(s, meter_no), principal, description,
                                     recovery_percent=pct, recovery_fixed=fixed, actor=operator)

    def _record_debt(self, s: Session, meter: m.Meter, principal: Decimal, description: str, *,
                     recovery_percent: Decimal, recovery_fixed: Decimal,
                     actor: str) -> DebtInfo:
        """Insert and audit a debt inside the caller's transaction (a bank return makes one
        in the same transaction that cancels the payment)."""
        row = m.Debt(meter_id=meter.id, description=description, principal=principal,
                     outstanding=principal, recovery_percent=recovery_percent,
                     recovery_fixed=recovery_fixed, created_at=self.now())
        s.add(row)
        s.flush()
        info = _debt_info(row, meter.meter_no)
        self._audit(s, actor, "debt.add", "debt", row.id, None, info)
        return info

    def debts(self, meter_no: str) -> list[DebtInfo]:
        with self._tx() as s:
            meter = _meter(s, meter_no)
            rows = s.scalars(select(m.Debt).where(m.Debt.meter_id == meter.id).order_by(m.Debt.id))
            return [_debt_info(d, meter_no) for d in rows]

    # -- cashier sessions and bank-paid vends -------------------------------------------------

    def open_session(
        self, operator: str, station: str, opening_float: Decimal = Decimal("0.00")
    ) -> CashierSessionInfo:
        """Open a cashier's shift: the operator's vends at ``station`` belong to it until closed."""
        float_ = _decimal(opening_float, "opening float")
        if float_ < 0 or float_ != float_.quantize(CENT):
            raise BillingError(f"opening float {float_} must be ≥ 0 in whole cents")
        with self._tx() as s:
            op_row = self._operator(s, operator)
            st = s.scalar(select(m.Station).where(m.Station.code == station))
            if st is None:
                raise NotFound(f"station {station!r} is not registered")
            already = s.scalar(select(m.CashierSession).where(
                m.CashierSession.operator_id == op_row.id, m.CashierSession.status == "open"))
            if already is not None:
                raise Conflict(f"operator {operator!r} already has session {already.id} open "
                               f"at {already.station.code}; close it first")
            row = m.CashierSession(operator=op_row, station=st, status="open",
                                   opened_at=self.now(), opening_float=float_)
            s.add(row)
            s.flush()
            info = _session_info(row)
            self._audit(s, operator, "session.open", "cashier_session", row.id, None, info)
            return info

    def close_session(self, session_id: int, *, operator: str,
                      counted_cash: Decimal) -> CashierSessionInfo:
        """Close a shift with the cash counted in the drawer (the cash-up report compares it)."""
        counted = _decimal(counted_cash, "counted cash")
        if counted < 0 or counted != counted.quantize(CENT):
            raise BillingError(f"counted cash {counted} must be ≥ 0 in whole cents")
        with self._tx() as s:
            op_row = self._operator(s, operator)
            row = s.get(m.CashierSession, _row_id(session_id))
            if row is None:
                raise NotFound(f"no cashier session {session_id}")
            if row.status != "open":
                raise Conflict(f"cashier session {session_id} is already closed")
            if row.operator_id != op_row.id and op_row.role == OperatorRole.CASHIER.value:
                raise PermissionDenied(f"session {session_id} belongs to {row.operator.name}; "
                                       f"cashier {operator!r} may not close it")
            before = _session_info(row)
            row.status, row.closed_at, row.counted_cash = "closed", self.now(), counted
            after = _session_info(row)
            self._audit(s, operator, "session.close", "cashier_session", row.id, before, after)
            return after

    def vend_pending_payments(
        self, meter_no: str, *, request_id: str, station: str, operator: str
    ) -> VendResult | None:
        """Vend every pending bank payment of the meter as one purchase (tender ``bank``).

        A station calls this whenever the meter's card is presented. The meter row is locked
        before the payments are read, so two stations cannot both vend the same payment;
        a retry with the same ``request_id`` returns the original vend. None if nothing is due.
        """
        if not request_id:
            raise VendRefused("request_id_missing", "a vend needs a client request id")
        with self._tx() as s:
            existing = s.scalar(select(m.Vend).where(m.Vend.request_id == request_id))
            if existing is not None:
                if existing.tender != "bank" or existing.meter.meter_no != meter_no:
                    raise VendRefused("request_id_conflict",
                                      f"request id {request_id!r} was used for another vend")
                return _vend_result(existing)
            meter = s.scalar(select(m.Meter).where(m.Meter.meter_no == meter_no).with_for_update())
            if meter is None:
                raise VendRefused("unknown_meter", f"meter {meter_no} is not registered")
            payments = s.scalars(select(m.BankPayment).where(
                m.BankPayment.meter_id == meter.id, m.BankPayment.status == "pending",
            ).order_by(m.BankPayment.id)).all()
            if not payments:
                return None
            amount = sum((p.amount for p in payments), Decimal("0.00"))
            result = self._new_vend(OrmSale(s), meter_no, amount, request_id, station, operator,
                                    "bank")
            for p in payments:
                p.status, p.vend_id = "vended", result.vend_id
            self._audit(s, operator, "bank.vend", "vend", result.vend_id, None,
                        {"payments": [p.entry_ref for p in payments], "amount": amount})
            return result


    # -- lookups (operators' search screens, the REST API) -----------------------------------

    def customers(self, query: str | None = None, *, limit: int = 100) -> list[CustomerInfo]:
        """Customers whose name, account number or address contains ``query`` (any case),
        or whose meter number starts with it; all customers without a query."""
        with self._tx() as s:
            q = select(m.Customer).order_by(m.Customer.account_no).limit(limit)
            if query:
                text = query.lower()  # % and _ are matched literally (autoescape)
                q = q.where(
                    func.lower(m.Customer.name).contains(text, autoescape=True)
                    | func.lower(m.Customer.account_no).contains(text, autoescape=True)
                    | func.lower(m.Customer.address).contains(text, autoescape=True)
                    | m.Customer.id.in_(select(m.Meter.customer_id).where(
                        m.Meter.meter_no.startswith(query, autoescape=True)))
                )
            return [_customer_info(c) for c in s.scalars(q)]

    def customer(self, account_no: str) -> CustomerInfo:
        with self._tx() as s:
            row = s.scalar(select(m.Customer).where(m.Customer.account_no == account_no))
            if row is None:
                raise NotFound(f"no customer with account {account_no!r}")
            return _customer_info(row)

    def meters(self, customer_account: str | None = None) -> list[MeterInfo]:
        with self._tx() as s:
            q = select(m.Meter).order_by(m.Meter.meter_no)
            if customer_account is not None:
                q = q.join(m.Customer).where(m.Customer.account_no == customer_account)
            return [_meter_info(x) for x in s.scalars(q)]

    def cards(self, meter_no: str) -> list[CardInfo]:
        with self._tx() as s:
            meter = _meter(s, meter_no)
            rows = s.scalars(select(m.Card).where(m.Card.meter_id == meter.id).order_by(m.Card.id))
            return [_card_info(c) for c in rows]

    def card(self, card_serial: str) -> CardInfo:
        """The card with this serial (the customer presents a card at the counter)."""
        with self._tx() as s:
            row = s.scalar(select(m.Card).where(m.Card.card_serial == card_serial))
            if row is None:
                raise NotFound(f"no card {card_serial}")
            return _card_info(row)

    def tariffs(self, code: str | None = None) -> list[TariffInfo]:
        """Every tariff version (of ``code``), by code then version."""
        with self._tx() as s:
            q = select(m.Tariff).order_by(m.Tariff.code, m.Tariff.version)
            if code is not None:
                q = q.where(m.Tariff.code == code)
            return [_tariff_info(t) for t in s.scalars(q)]

    def operators(self) -> list[OperatorInfo]:
        with self._tx() as s:
            rows = s.scalars(select(m.Operator).order_by(m.Operator.name))
            return [OperatorInfo(o.id, o.name, OperatorRole(o.role)) for o in rows]

    def stations(self) -> list[StationInfo]:
        with self._tx() as s:
            return [StationInfo(x.id, x.code)
                    for x in s.scalars(select(m.Station).order_by(m.Station.code))]

    # -- API tokens -------------------------------------------------------------------------

    def create_api_token(self, operator: str, *, actor: str, label: str = "",
                         expires_at: datetime | None = None,
                         stations: Iterable[str] = ()) -> IssuedToken:
        """Mint a bearer token for ``operator``; ``actor`` must be an administrator.

        ``expires_at`` (None: never) ends it; ``stations`` are the registered stations it may
        sell at (none: it may read and administer, not sell). The secret is in the returned
        :class:`IssuedToken` only; the audit log records the token id, operator, label,
        expiry and stations.
        """
        codes = tuple(dict.fromkeys(stations))
        expiry = None if expires_at is None else to_utc(expires_at)
        with self._tx() as s:
            self._require_administrator(s, actor, "create API tokens")
            now = self.now()
            if expiry is not None and expiry <= now:
                raise BillingError(f"token expiry {expiry.isoformat()} is not in the future")
            known = set(s.scalars(select(m.Station.code).where(m.Station.code.in_(codes))))
            missing = [c for c in codes if c not in known]
            if missing:
                raise NotFound(f"station {missing[0]!r} is not registered; a token can only "
                               "be bound to registered stations")
            row, secret = tokens.mint(s, self._operator(s, operator), label=label, actor=actor,
                                      at=now, expires_at=expiry, stations=codes)
            info = tokens.info(row)
            self._audit(s, actor, "token.create", "api_token", row.id, None, info)
            return IssuedToken(info, secret)

    def revoke_api_token(self, token_id: int, *, actor: str) -> ApiTokenInfo:
        with self._tx() as s:
            self._require_administrator(s, actor, "revoke API tokens")
            row = s.get(m.ApiToken, _row_id(token_id))
            if row is None:
                raise NotFound(f"no API token {token_id}")
            if row.revoked_at is not None:
                raise Conflict(f"API token {token_id} was already revoked at {row.revoked_at}")
            before = tokens.info(row)
            row.revoked_at, row.revoked_by = self.now(), actor
            after = tokens.info(row)
            self._audit(s, actor, "token.revoke", "api_token", row.id, before, after)
            return after

    def api_tokens(self) -> list[ApiTokenInfo]:
        with self._tx() as s:
            return [tokens.info(t) for t in s.scalars(select(m.ApiToken).order_by(m.ApiToken.id))]

    def operator_for_token(self, secret: str) -> OperatorInfo | None:
        """The operator a live (unrevoked, unexpired) token belongs to, or None."""
        holder = self.token_holder(secret)
        return None if holder is None else holder.operator

    def token_holder(self, secret: str) -> TokenHolder | None:
        """Who a live (unrevoked, unexpired) token speaks for and where it may sell; None
        for an unknown, revoked or expired token."""
        with self._tx() as s:
            row = tokens.live_token(s, secret, self.now())
            if row is None:
                return None
            operator = OperatorInfo(row.operator.id, row.operator.name,
                                    OperatorRole(row.operator.role))
            return TokenHolder(row.id, operator, tuple(row.stations or ()), row.expires_at)

    def open_session_of(self, operator: str) -> CashierSessionInfo | None:
        """The operator's open cashier session, if any."""
        with self._tx() as s:
            row = s.scalar(select(m.CashierSession).join(m.Operator).where(
                m.Operator.name == operator, m.CashierSession.status == "open"))
            return None if row is None else _session_info(row)

    def quote_vend(
        self, meter_no: str, amount: Decimal, *, station: str, operator: str
    ) -> VendResult:
        """Price a sale exactly as :meth:`vend` would — same checks, same receipt lines — and
        keep nothing (the transaction is rolled back): the receipt preview before payment."""
        if not isinstance(amount, Decimal | int) or isinstance(amount, bool):
            raise VendRefused(
                "amount_invalid", f"amount must be a Decimal, got {type(amount).__name__}"
            )
        s = self._sessions()
        try:
            with self._busy_as("quote_vend"):
                s.begin()
                return self._new_vend(OrmSale(s), meter_no, Decimal(amount),
                                      f"quote-{uuid.uuid4().hex}", station, operator)
        finally:
            s.rollback()
            s.close()

    # -- console passwords ------------------------------------------------------------------

    def set_password(self, operator: str, password: str, *, actor: str = "system") -> None:
        """Set ``operator``'s console password (an administrator, or the operator itself).

        Only the salted hash is stored; the audit log records that it changed, nothing more.
        """
        try:
            encoded = passwords.hash_password(password)
        except passwords.PasswordPolicyError as e:
            raise BillingError(str(e)) from None
        with self._tx() as s:
            row = self._operator(s, operator)
            if actor not in ("system", operator):
                admin = self._operator(s, actor)
                if admin.role != OperatorRole.ADMINISTRATOR.value:
                    raise PermissionDenied(f"operator {actor!r} may not set another "
                                           "operator's password")
            cred = s.get(m.OperatorCredential, row.id)
            if cred is None:
                s.add(m.OperatorCredential(operator_id=row.id, password_hash=encoded,
                                           changed_at=self.now()))
            else:
                cred.password_hash, cred.changed_at = encoded, self.now()
            self._audit(s, actor, "operator.password", "operator", row.id, None,
                        {"operator": operator, "password": "changed"})

    def authenticate(self, name: str, password: str) -> OperatorInfo | None:
        """The operator if ``password`` is theirs, else None (unknown name, no password set
        or wrong password look the same to the caller). Known names are audited."""
        checked = self.check_login(name, password)
        return None if checked is None else checked[0]

    def check_login(self, name: str, password: str) -> tuple[OperatorInfo, str] | None:
        """:meth:`authenticate`, also returning the password's stamp (see
        :meth:`password_stamp`) read in the same transaction.

        Every call runs the password KDF exactly once — against the operator's hash, or a
        dummy one for an unknown name or an operator without a password — so the answer
        takes as long whichever it is.
        """
        with self._tx() as s:
            row = s.scalar(select(m.Operator).where(m.Operator.name == name))
            cred = s.get(m.OperatorCredential, row.id) if row is not None else None
            encoded = cred.password_hash if cred is not None else _DUMMY_HASH
            ok = passwords.verify_password(password, encoded) and cred is not None
            if row is None:
                return None
            self._audit(s, name, "operator.login" if ok else "operator.login_failed",
                        "operator", row.id, None, {"operator": name})
            if not ok:
                return None
            return OperatorInfo(row.id, row.name, OperatorRole(row.role)), _stamp(encoded)

    def password_stamp(self, name: str) -> str | None:
        """A short fingerprint of ``name``'s current password hash (None: no password). A
        console session keeps the stamp of its login and ends when it no longer matches, so a
        password change ends every session opened with the old password."""
        with self._tx() as s:
            encoded = s.scalar(select(m.OperatorCredential.password_hash)
                               .join(m.Operator, m.Operator.id == m.OperatorCredential.operator_id)
                               .where(m.Operator.name == name))
            return None if encoded is None else _stamp(encoded)

    # -- vending agents ---------------------------------------------------------------------

    def register_agent(self, name: str, credit_limit: Decimal = Decimal("0.00"), *,
                       actor: str = "system") -> agents.AgentInfo:
        """A vending agent with an empty float; ``actor`` must not be a cashier."""
        limit = _decimal(credit_limit, "credit limit")
        if not name.strip():
            raise BillingError("an agent needs a name")
        if limit < 0 or limit != limit.quantize(CENT):
            raise BillingError(f"credit limit {limit} must be ≥ 0 in whole cents")
        try:
            with self._tx() as s:
                self._require_role(s, actor, "register an agent", allow_system=True)
                row = m.Agent(name=name, credit_limit=limit, created_at=self.now())
                s.add(row)
                s.flush()
                result = agents.info(s, row)
                self._audit(s, actor, "agent.register", "agent", row.id, None, result)
                return result
        except IntegrityError:
            raise Conflict(f"agent {name!r} already exists") from None

    def assign_agent_station(self, agent: str, station: str, *,
                             actor: str = "system") -> agents.AgentInfo:
        """Make ``station`` sell for ``agent`` (a station sells for one agent at most)."""
        with self._tx() as s:
            self._require_role(s, actor, "assign agent stations", allow_system=True)
            row = self._agent(s, agent)
            st = s.scalar(select(m.Station).where(m.Station.code == station))
            if st is None:
                raise NotFound(f"station {station!r} is not registered")
            if s.get(m.AgentStation, st.id) is not None:
                raise Conflict(f"station {station} already sells for an agent")
            s.add(m.AgentStation(station_id=st.id, agent_id=row.id))
            s.flush()
            result = agents.info(s, row)
            self._audit(s, actor, "agent.station", "agent", row.id, None,
                        {"station": station})
            return result

    def top_up_agent(self, agent: str, amount: Decimal, *, actor: str,
                     reference: str = "") -> agents.AgentInfo:
        """Add money the agent paid in to its float (supervisor or administrator)."""
        value = _decimal(amount, "top-up amount")
        if value <= 0 or value != value.quantize(CENT):
            raise BillingError(f"top-up {value} must be positive in whole cents")
        with self._tx() as s:
            self._require_role(s, actor, "top up an agent")
            row = self._agent(s, agent, lock=True)
            entry = m.AgentEntry(agent_id=row.id, kind="topup", amount=value,
                                 reference=reference, actor=actor, at=self.now())
            s.add(entry)
            s.flush()
            result = agents.info(s, row)
            self._audit(s, actor, "agent.topup", "agent", row.id, None,
                        {"amount": value, "reference": reference, "balance": result.balance,
                         "entry_id": entry.id})
            return result

    def agent(self, name: str) -> agents.AgentInfo:
        with self._tx() as s:
            return agents.info(s, self._agent(s, name))

    def list_agents(self) -> list[agents.AgentInfo]:
        with self._tx() as s:
            return [agents.info(s, a) for a in s.scalars(select(m.Agent).order_by(m.Agent.name))]

    def agent_statement(self, name: str) -> list[agents.AgentEntryInfo]:
        """Every movement of the agent's float, oldest first, with the running balance."""
        with self._tx() as s:
            return agents.statement(s, self._agent(s, name))

    def _agent(self, s: Session, name: str, *, lock: bool = False) -> m.Agent:
        q = select(m.Agent).where(m.Agent.name == name)
        row = s.scalar(q.with_for_update() if lock else q)
        if row is None:
            raise NotFound(f"agent {name!r} is not registered")
        return row

    # -- audit ------------------------------------------------------------------------------

    def verify_audit_chain(self, config: AuditConfig | None = None) -> audit.ChainReport:
        """Verify the audit chain with the centre's audit key (or ``config``'s), against the
        checkpoints in its anchor, and the ledger tables against the events; the report names
        the first broken event and every row that disagrees (docs/billing.md, "Audit
        verification")."""
        with self._tx() as s:
            return audit_verify.verify(s, config or self.audit_config, self.now())

    def audit_checkpoint(self) -> audit.ChainReport:
        """Verify the chain and, if it holds, write a checkpoint of its head to the anchor
        (``rig billing audit checkpoint``, e.g. from a timer)."""
        if self._anchoring is None:
            raise BillingError("no audit anchor is configured ($RIG_AUDIT_ANCHOR)")
        report = self.verify_audit_chain()
        if report.ok and report.head is not None:
            self._anchoring.checkpoint(report.head)
        return report

    def audit_log(self, entity: str | None = None) -> list[audit.AuditEntry]:
        with self._tx() as s:
            q = select(m.AuditEvent).order_by(m.AuditEvent.seq)
            if entity is not None:
                q = q.where(m.AuditEvent.entity == entity)
            return [audit.entry(r) for r in s.scalars(q)]

    def _audit_agent_entry(self, s: Session, actor: str, action: str,
                           entry: m.AgentEntry) -> None:
        self._audit(s, actor, action, "agent", entry.agent_id, None,
                    {"entry_id": entry.id, "vend_id": entry.vend_id, "amount": entry.amount})

    def _audit(self, s: Session, actor: str, action: str, entity: str, entity_id: object,
               before: Any, after: Any, *, head: audit.Head | None = None) -> None:
        audit.defer(s, at=self.now(), actor=actor, action=action, entity=entity,
                     entity_id=entity_id, before=before, after=after,
                     head=head)

    def _operator(self, s: Session, name: str) -> m.Operator:
        row = s.scalar(select(m.Operator).where(m.Operator.name == name))
        if row is None:
            raise NotFound(f"operator {name!r} is not registered")
        return row

    def _require_role(self, s: Session, name: str, what: str, *,
                      allow_system: bool = False) -> m.Operator:
        """The operator ``name``, who must be a supervisor or an administrator to do ``what``."""
        if allow_system and name == "system":
            return None  # type: ignore[return-value]
        row = self._operator(s, name)
        if row.role == OperatorRole.CASHIER.value:
            raise PermissionDenied(f"operator {name!r} is a cashier and may not {what}")
        return row

    def _require_administrator(self, s: Session, name: str, what: str) -> m.Operator:
        row = self._operator(s, name)
        if row.role != OperatorRole.ADMINISTRATOR.value:
            raise PermissionDenied(f"operator {name!r} is a {row.role}; only an administrator "
                                   f"may {what}")
        return row

    def _vend_parties(
        self, s: Session, meter: m.Meter, station: str, operator: str
    ) -> tuple[m.Card, m.Station, m.Operator]:
        if meter.status != MeterStatus.ACTIVE.value:
            raise VendRefused("meter_blocked", f"meter {meter.meter_no} is blocked")
        card = _active_card(s, meter)
        if card is None:
            raise VendRefused("no_active_card", f"meter {meter.meter_no} has no active card")
        pending = s.scalar(select(m.Vend).where(
            m.Vend.meter_id == meter.id, m.Vend.status.in_(UNAPPLIED)).limit(1))
        if pending is not None:
            raise VendRefused("unapplied_purchase",
                              f"card {card.card_serial} still carries purchase #{pending.sequence}")
        st = s.scalar(select(m.Station).where(m.Station.code == station))
        if st is None:
            raise VendRefused("unknown_station", f"station {station!r} is not registered")
        return card, st, self._operator(s, operator)

    # -- readback & reconciliation -----------------------------------------------------------

    def ingest_readback(
        self,
        data: ReadbackData | None = None,
        *,
        card_serial: str | None = None,
        raw: bytes | None = None,
    ) -> ReconciliationResult:
        """Store a readback, confirm the vends it shows applied, and reconcile the meter.

        ``raw`` is the record as the card holds it; the centre decodes it and verifies its MAC
        itself (``data``, if also given, must agree with it field by field; its
        ``mac_verified`` is ignored). Only a readback whose MAC the centre verified confirms
        vends and can reconcile as balanced; any other is stored as unverified.
        The readback and its reconciliation are stored even when they disagree with the
        ledger: a mismatch is an exception for a supervisor, never something to drop.
        ``card_serial``, when given, must be a card of the meter the readback names.
        """
        data, record = readback_check.decode(data, raw)
        with self._tx() as s:
            meter = s.scalar(
                select(m.Meter).where(m.Meter.meter_no == data.meter_no).with_for_update()
            )
            if meter is None:
                raise NotFound(f"readback names meter {data.meter_no}, which is not registered")
            mac = readback_check.verify_mac(record, self.readback_keys, meter.key_revision)
            data = replace(data, mac_verified=mac.verified)
            now = self.now()
            previous = s.scalar(
                select(m.Readback)
                .where(m.Readback.meter_id == meter.id)
                .order_by(m.Readback.id.desc())
                .limit(1)
            )
            readback = _readback_row(meter, data, card_serial, raw, now)
            s.add(readback)
            s.flush()

            vends = s.scalars(
                select(m.Vend).where(m.Vend.meter_id == meter.id).order_by(m.Vend.sequence)
            ).all()
            confirmed: list[int] = []
            for v in vends:
                if mac.verified and v.sequence <= data.last_sequence and v.status in UNAPPLIED:
                    v.status = VendStatus.CONFIRMED.value
                    v.confirmed_at = now
                    v.confirmed_by_readback_id = readback.id
                    confirmed.append(v.id)
                    self._audit(s, "station", "vend.confirmed", "vend", v.id,
                                {"status": "unapplied"},
                                {"status": v.status, "readback_id": readback.id})
            applied = tuple(
                (v.sequence, v.credit)
                for v in vends
                if v.sequence <= data.last_sequence and v.status != VendStatus.REVERSED.value
            )
            price_tariff = (
                s.scalar(
                    select(m.Tariff).where(
                        m.Tariff.code == meter.tariff.code,
                        m.Tariff.version == data.tariff_version,
                    )
                )
                or _tariff_in_effect(s, meter.tariff.code, now)
                or meter.tariff
            )
            card_meter_no = None
            if card_serial is not None:
                card = s.scalar(select(m.Card).where(m.Card.card_serial == card_serial))
                card_meter_no = card.meter.meter_no if card is not None else "(unknown card)"
            ledger = LedgerView(
                meter_no=meter.meter_no,
                credit_unit=CreditUnit(meter.credit_unit),
                commissioning_energy_wh=meter.commissioning_energy_wh,
                last_issued_sequence=meter.last_sequence,
                price_per_kwh=price_tariff.price_per_kwh,
                price_tariff_version=price_tariff.version,
                previous_energy_wh=previous.energy_wh if previous is not None else None,
                applied=applied,
                card_meter_no=card_meter_no,
            )
            outcome = reconcile(ledger, data)
            evidence = {**outcome.evidence, "confirmed_vend_ids": confirmed,
                        "mac": mac.evidence(self.readback_keys)}
            rec = m.Reconciliation(
                meter_id=meter.id,
                readback_id=readback.id,
                verdict=outcome.verdict.value,
                expected_purchase=outcome.expected_purchase,
                actual_purchase=outcome.actual_purchase,
                expected_consumed=outcome.expected_consumed,
                actual_consumed=outcome.actual_consumed,
                evidence=evidence,
                created_at=now,
            )
            s.add(rec)
            s.flush()
            self._audit(s, "station", "readback.ingest", "readback", readback.id, None,
                        {"meter_no": meter.meter_no, "verdict": outcome.verdict.value,
                         "reconciliation_id": rec.id, "confirmed_vend_ids": confirmed,
                         "mac_verified": mac.verified})
            return ReconciliationResult(
                reconciliation_id=rec.id,
                readback_id=readback.id,
                meter_no=meter.meter_no,
                verdict=outcome.verdict,
                checks=outcome.checks,
                evidence=evidence,
                confirmed_vend_ids=tuple(confirmed),
                created_at=now,
            )

    # -- queries -----------------------------------------------------------------------------

    def meter(self, meter_no: str) -> MeterInfo:
        with self._tx() as s:
            return _meter_info(_meter(s, meter_no))

    def vend_by_id(self, vend_id: int) -> VendResult:
        with self._tx() as s:
            vend = s.get(m.Vend, _row_id(vend_id))
            if vend is None:
                raise NotFound(f"no vend {vend_id}")
            return _vend_result(vend)

    def vends_for_meter(self, meter_no: str) -> list[VendResult]:
        with self._tx() as s:
            meter = _meter(s, meter_no)
            rows = s.scalars(
                select(m.Vend).where(m.Vend.meter_id == meter.id).order_by(m.Vend.sequence)
            ).all()
            return [_vend_result(v) for v in rows]

    def latest_reconciliation(self, meter_no: str) -> ReconciliationResult | None:
        with self._tx() as s:
            meter = _meter(s, meter_no)
            rec = s.scalar(
                select(m.Reconciliation)
                .where(m.Reconciliation.meter_id == meter.id)
                .order_by(m.Reconciliation.id.desc())
                .limit(1)
            )
            return None if rec is None else _reconciliation_result(rec, meter.meter_no)

    def reconciliation_exceptions(self) -> list[ReconciliationResult]:
        """Every stored mismatch, oldest first — the supervisor's work queue."""
        with self._tx() as s:
            rows = s.execute(
                select(m.Reconciliation, m.Meter.meter_no)
                .join(m.Meter, m.Meter.id == m.Reconciliation.meter_id)
                .where(m.Reconciliation.verdict == Verdict.MISMATCH.value)
                .order_by(m.Reconciliation.id)
            ).all()
            return [_reconciliation_result(rec, no) for rec, no in rows]

    def daily_sales(self, day: date) -> DailySales:
        """Vends created on ``day`` (UTC), excluding reversed ones; sums in exact Decimal."""
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        with self._tx() as s:
            rows = s.execute(
                select(m.Vend.amount, m.Vend.credit, m.Vend.credit_unit, m.Station.code)
                .join(m.Station, m.Station.id == m.Vend.station_id)
                .where(
                    m.Vend.created_at >= start,
                    m.Vend.created_at < start + timedelta(days=1),
                    m.Vend.status != VendStatus.REVERSED.value,
                )
            ).all()
        total = Decimal("0.00")
        by_unit: dict[str, int] = {}
        by_station: dict[str, Decimal] = {}
        for amount, credit, unit, station in rows:
            total += amount
            by_unit[unit] = by_unit.get(unit, 0) + credit
            by_station[station] = by_station.get(station, Decimal("0.00")) + amount
        return DailySales(day, len(rows), total, by_unit, by_station)


# -- helpers -----------------------------------------------------------------------------------


def _stamp(password_hash: str) -> str:
    """A fingerprint of a stored password hash: new for every new password (fresh salt)."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:32]


def _enum(kind: Any, value: Any, what: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(k.value for k in kind)
        raise BillingError(f"{what} {value!r} is not one of: {allowed}") from None


def _decimal(value: Any, what: str) -> Decimal:
    if isinstance(value, float | bool) or not isinstance(value, Decimal | int | str):
        raise BillingError(f"{what} must be a Decimal (never float), got {value!r}")
    try:
        number = Decimal(value)
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite():
        raise BillingError(f"{what} {value!r} is not a finite decimal number")
    return number


def _row_id(value: int) -> int:
    """A row id as asked for, or 0 (which no row has) when a BIGINT cannot hold it: looking it
    up then says "not found" instead of overflowing the driver."""
    ok = not isinstance(value, bool) and isinstance(value, int) and 0 < value <= inputs.ROW_ID_MAX
    return value if ok else 0


def _meter(s: Session, meter_no: str) -> m.Meter:
    meter = s.scalar(select(m.Meter).where(m.Meter.meter_no == meter_no))
    if meter is None:
        raise NotFound(f"meter {meter_no} is not registered")
    return meter


def _check_hoarding_limit(limit: int | None, unit: CreditUnit) -> None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                              or not 0 < limit <= inputs.CREDIT_MAX):
        raise BillingError(f"hoarding limit {limit!r} must be a positive whole number of "
                           f"{hoarding.UNIT_WORDS[unit.value]} up to {inputs.CREDIT_MAX} "
                           "(the meter's parameter record holds a u32), or none")


def _estimated_credit(s: Session, meter_id: int) -> int:
    """Latest readback's balance + credit of the vends no readback has confirmed yet."""
    balance = s.scalar(
        select(m.Readback.remaining - m.Readback.overdraft)
        .where(m.Readback.meter_id == meter_id, m.Readback.mac_verified.is_(True))
        .order_by(m.Readback.id.desc()).limit(1))
    unconfirmed = s.scalars(select(m.Vend.credit).where(
        m.Vend.meter_id == meter_id, m.Vend.status.in_(UNAPPLIED)))
    return hoarding.estimate(balance, unconfirmed)


def _refuse_hoarding(s: Session, meter: m.Meter, credit: int) -> None:
    if meter.hoarding_limit is not None:  # else no need to estimate
        _refuse_over_hoarding(meter.meter_no, meter.hoarding_limit,
                              _estimated_credit(s, meter.id), credit, meter.credit_unit)


def _refuse_over_hoarding(meter_no: str, limit: int | None, estimated: int, credit: int,
                          credit_unit: str) -> None:
    why = hoarding.refusal(meter_no, limit, estimated, credit, credit_unit)
    if why is not None:
        raise VendRefused("hoarding_limit", why)


def _committed_meanwhile(s: Session, request_id: str) -> m.Vend | None:
    """The vend with ``request_id``, read again once the meter row is locked.

    On PostgreSQL (READ COMMITTED) a retry that arrived while the original was still being
    written waits for the meter lock and only then can see the original's row; checking
    before the lock alone would refuse the retry as an unapplied purchase. On SQLite
    ``BEGIN IMMEDIATE`` serialises whole transactions and this finds nothing new.
    """
    return s.scalar(select(m.Vend).where(m.Vend.request_id == request_id))


def _active_card(s: Session, meter: m.Meter) -> m.Card | None:
    return s.scalar(
        select(m.Card)
        .where(m.Card.meter_id == meter.id, m.Card.status == CardStatus.ACTIVE.value)
        .order_by(m.Card.id.desc())
        .limit(1)
    )


def _tariff_in_effect(s: Session, code: str, at: datetime) -> m.Tariff | None:
    return s.scalar(
        select(m.Tariff)
        .where(m.Tariff.code == code, m.Tariff.effective_from <= at)
        .order_by(m.Tariff.effective_from.desc(), m.Tariff.version.desc())
        .limit(1)
    )


def _readback_row(
    meter: m.Meter, d: ReadbackData, card_serial: str | None, raw: bytes | None, now: datetime
) -> m.Readback:
    return m.Readback(
        meter_id=meter.id,
        card_serial=card_serial,
        energy_wh=d.energy_wh,
        remaining=d.remaining,
        overdraft=d.overdraft,
        purchase_count=d.purchase_count,
        last_sequence=d.last_sequence,
        cumulative_purchase=d.cumulative_purchase,
        credit_unit=str(d.credit_unit),
        relay_open=d.relay_open,
        alarm_active=d.alarm_active,
        alarm_count=d.alarm_count,
        cutoff_count=d.cutoff_count,
        tamper_count=d.tamper_count,
        power_down_count=d.power_down_count,
        meter_timestamp=to_utc(d.timestamp),
        tariff_version=d.tariff_version,
        mac_verified=d.mac_verified,
        raw_hex=raw.hex() if raw is not None else None,
        received_at=now,
    )


def _session_info(x: m.CashierSession) -> CashierSessionInfo:
    return CashierSessionInfo(x.id, x.operator.name, x.station.code, x.status, x.opened_at,
                              x.closed_at, x.opening_float, x.counted_cash)


def _customer_info(c: m.Customer) -> CustomerInfo:
    return CustomerInfo(c.id, c.name, c.account_no, c.address)


def _tariff_info(t: m.Tariff) -> TariffInfo:
    st = t.structure or {}
    return TariffInfo(
        t.id, t.code, t.version, t.price_per_kwh, t.effective_from,
        kind=t.kind,
        blocks=tuple(Block(b["up_to_wh"], Decimal(b["price_per_kwh"]))
                     for b in st.get("blocks", [])),
        bands=tuple(Band(b["name"], b["start_minute"], b["end_minute"],
                         Decimal(b["price_per_kwh"])) for b in st.get("bands", [])),
        utc_offset_minutes=st.get("utc_offset_minutes", 0),
        fixed_monthly=t.fixed_monthly,
        taxes=tuple(Tax(x["name"], Decimal(x["rate_percent"])) for x in t.taxes or []),
    )


def _debt_info(d: m.Debt, meter_no: str) -> DebtInfo:
    return DebtInfo(d.id, meter_no, d.description, d.principal, d.outstanding,
                    d.recovery_percent, d.recovery_fixed)


def _parameters_of(vend: m.Vend) -> dict[str, Any] | None:
    """The parameters a vend carries to its meter, as its first answer gave them: those still
    queued while it is not written, then those marked written with it (a replay — a station
    rewriting a torn card — must write the same levels)."""
    s = object_session(vend)
    assert s is not None
    if vend.status == VendStatus.CREATED.value:
        return _pending_parameters(s, vend.meter_id)
    merged: dict[str, Any] = {}
    for change in s.scalars(select(m.ParameterChange).where(
            m.ParameterChange.vend_id == vend.id).order_by(m.ParameterChange.id)):
        merged.update(change.params)
    return merged or None


def _pending_parameters(s: Session, meter_id: int) -> dict[str, Any] | None:
    """Queued parameter changes of a meter merged oldest first (later values win)."""
    merged: dict[str, Any] = {}
    for change in s.scalars(select(m.ParameterChange).where(
        m.ParameterChange.meter_id == meter_id, m.ParameterChange.status == "queued",
    ).order_by(m.ParameterChange.id)):
        merged.update(change.params)
    return merged or None


def _meter_info(x: m.Meter) -> MeterInfo:
    return MeterInfo(
        meter_id=x.id,
        meter_no=x.meter_no,
        customer_account=x.customer.account_no,
        profile=x.profile,
        credit_unit=CreditUnit(x.credit_unit),
        tariff_code=x.tariff.code,
        key_revision=x.key_revision,
        commissioning_energy_wh=x.commissioning_energy_wh,
        commissioned_at=x.commissioned_at,
        last_sequence=x.last_sequence,
        status=MeterStatus(x.status),
        hoarding_limit=x.hoarding_limit,
    )


def _card_info(c: m.Card) -> CardInfo:
    return CardInfo(c.id, c.card_serial, c.meter.meter_no, c.card_type, CardStatus(c.status))


def _vend_result(v: m.Vend, parameters: dict[str, Any] | None = None) -> VendResult:
    return VendResult(
        vend_id=v.id,
        request_id=v.request_id,
        meter_no=v.meter.meter_no,
        card_serial=v.card.card_serial,
        sequence=v.sequence,
        credit=v.credit,
        credit_unit=CreditUnit(v.credit_unit),
        amount=v.amount,
        tariff_code=v.tariff.code,
        tariff_version=v.tariff_version,
        price_per_kwh=v.price_per_kwh,
        key_revision=v.key_revision,
        receipt=tuple(
            ReceiptLine(r["label"], Decimal(r["amount"]), r.get("detail", "")) for r in v.receipt
        ),
        status=VendStatus(v.status),
        station=v.station.code,
        operator=v.operator.name,
        created_at=v.created_at,
        kind=v.kind,
        parameters=parameters,
        reprint_count=v.reprint_count,
        tender=v.tender,
    )


def _reconciliation_result(rec: m.Reconciliation, meter_no: str) -> ReconciliationResult:
    ev = rec.evidence
    checks = tuple(
        Check(c["name"], c["expected"], c["actual"], c["tolerance"], c["passed"])
        for c in ev.get("checks", [])
    )
    return ReconciliationResult(
        reconciliation_id=rec.id,
        readback_id=rec.readback_id,
        meter_no=meter_no,
        verdict=Verdict(rec.verdict),
        checks=checks,
        evidence=ev,
        confirmed_vend_ids=tuple(ev.get("confirmed_vend_ids", [])),
        created_at=rec.created_at,
    )
