"""Billing centre schema (SQLAlchemy 2 typed ORM).

Rules that keep the ledger honest on every backend:

* money is ``Decimal`` stored as a scaled ``BIGINT`` (:mod:`rig.billing.money`: amounts in
  cents, prices and rates in 1/10 000, derived figures in 1/10 000 000), exact on SQLite and
  PostgreSQL alike; credit, energy and counters are integers (cents / Wh). No float column.
* datetimes are stored as UTC and returned timezone-aware (:class:`UTCDateTime`).
* constraint names follow a fixed convention so later Alembic (batch) migrations can name them.

The schema is created only by Alembic migrations (``rig/billing/migrations``); a test asserts the
migrated schema equals this metadata.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from rig.billing.money import Exact, Money, Price

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

MONEY = Money
PRICE = Price


def to_utc(value: datetime) -> datetime:
    """Normalise a datetime to aware UTC; a naive value is taken to already be UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """DateTime that always stores UTC and always returns an aware UTC datetime.

    SQLite drops the offset, PostgreSQL keeps it; normalising both ways makes comparisons and
    day boundaries identical on both backends.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return to_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return to_utc(value)

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        return _sqlite_utc_text


def _sqlite_utc_text(value: datetime | None) -> str | None:
    """UTC as SQLite stores a ``DateTime`` (SQLAlchemy's storage format, always with six
    decimals, so text order is time order), made by ``isoformat`` in C: a sale binds four."""
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = to_utc(value)
    return value.isoformat(" ", "microseconds")[:-6]  # without "+00:00"


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


CREDIT_UNITS = ("money_cents", "energy_wh")
VEND_STATUSES = ("created", "written", "confirmed", "reversed")
VEND_KINDS = ("sale", "free")
TARIFF_KINDS = ("flat", "block", "tou")
PARAMETER_STATUSES = ("queued", "written", "cancelled")
CARD_STATUSES = ("active", "lost", "replaced", "blocked")
METER_STATUSES = ("active", "blocked")
OPERATOR_ROLES = ("cashier", "supervisor", "administrator")
VERDICTS = ("balanced", "mismatch")
TENDERS = ("cash", "bank")
SESSION_STATUSES = ("open", "closed")
PAYMENT_STATUSES = ("pending", "vended", "unmatched", "returned", "applied")
PAYMENT_KINDS = ("credit", "debit", "credit_return", "debit_return")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        Decimal: MONEY,
        dict[str, Any]: JSON,
    }


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_no: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime]

    meters: Mapped[list[Meter]] = relationship(back_populates="customer")


class Tariff(Base):
    """One version of a tariff. Versions of a code never change once vended against."""

    __tablename__ = "tariffs"
    __table_args__ = (
        UniqueConstraint("code", "version"),
        CheckConstraint(_in("kind", TARIFF_KINDS), name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), index=True)
    version: Mapped[int]
    price_per_kwh: Mapped[Decimal] = mapped_column(PRICE)
    effective_from: Mapped[datetime]
    created_at: Mapped[datetime]
    # flat | block | tou; ``structure`` holds blocks or bands with prices as exact strings.
    kind: Mapped[str] = mapped_column(String(8), default="flat", server_default="flat")
    structure: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    fixed_monthly: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0), server_default="0")
    taxes: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)


class Meter(Base):
    __tablename__ = "meters"
    __table_args__ = (
        CheckConstraint(_in("credit_unit", CREDIT_UNITS), name="credit_unit"),
        CheckConstraint(_in("status", METER_STATUSES), name="status"),
        CheckConstraint("last_sequence >= 0", name="last_sequence"),
        CheckConstraint("hoarding_limit IS NULL OR hoarding_limit > 0", name="hoarding_limit"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meter_no: Mapped[str] = mapped_column(String(12), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    profile: Mapped[str] = mapped_column(String(100))
    credit_unit: Mapped[str] = mapped_column(String(16))
    # The tariff the meter was put on; vends use the version of this code in effect at the time.
    tariff_id: Mapped[int] = mapped_column(ForeignKey("tariffs.id"), index=True)
    key_revision: Mapped[int]
    commissioning_energy_wh: Mapped[int] = mapped_column(BigInteger)
    commissioned_at: Mapped[datetime]
    last_sequence: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime]
    # Change below one credit unit kept from the last purchase and spent on the next one.
    change_balance: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0), server_default="0")
    # Most credit (credit units) the meter may hold; a vend beyond it is refused. NULL: no check.
    hoarding_limit: Mapped[int | None] = mapped_column(BigInteger)

    customer: Mapped[Customer] = relationship(back_populates="meters")
    tariff: Mapped[Tariff] = relationship()
    cards: Mapped[list[Card]] = relationship(back_populates="meter")


class Card(Base):
    __tablename__ = "cards"
    __table_args__ = (CheckConstraint(_in("status", CARD_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    card_serial: Mapped[str] = mapped_column(String(64), unique=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"), index=True)
    card_type: Mapped[str] = mapped_column(String(32), default="customer")
    status: Mapped[str] = mapped_column(String(16), default="active")
    issued_at: Mapped[datetime]

    meter: Mapped[Meter] = relationship(back_populates="cards")


class Operator(Base):
    __tablename__ = "operators"
    __table_args__ = (CheckConstraint(_in("role", OPERATOR_ROLES), name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(16))


class Station(Base):
    __tablename__ = "stations"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)


class Vend(Base):
    __tablename__ = "vends"
    __table_args__ = (
        UniqueConstraint("meter_id", "sequence"),
        CheckConstraint(_in("status", VEND_STATUSES), name="status"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint(_in("kind", VEND_KINDS), name="kind"),
        CheckConstraint("credit >= 0", name="credit"),
        CheckConstraint("sequence >= 1", name="sequence"),
        CheckConstraint(_in("tender", TENDERS), name="tender"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[str] = mapped_column(String(64), unique=True)
    # Found by meter through uq_vends_meter_id_sequence (meter_id first); never looked up by
    # card. Every index is one more page for each sale to write (migration 0008).
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"))
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"))
    tariff_id: Mapped[int] = mapped_column(ForeignKey("tariffs.id"))
    amount: Mapped[Decimal]
    credit: Mapped[int] = mapped_column(BigInteger)
    credit_unit: Mapped[str] = mapped_column(String(16))
    sequence: Mapped[int]
    tariff_version: Mapped[int]
    price_per_kwh: Mapped[Decimal] = mapped_column(PRICE)
    key_revision: Mapped[int]
    receipt: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="created")
    created_at: Mapped[datetime] = mapped_column(index=True)
    written_at: Mapped[datetime | None]
    confirmed_at: Mapped[datetime | None]
    confirmed_by_readback_id: Mapped[int | None] = mapped_column(ForeignKey("readbacks.id"))
    # sale: money in; free: credit given by a supervisor (amount 0, reason required).
    kind: Mapped[str] = mapped_column(String(8), default="sale", server_default="sale")
    reason: Mapped[str | None] = mapped_column(Text)
    energy_charge: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0), server_default="0")
    tax_total: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0), server_default="0")
    fixed_charge: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0), server_default="0")
    debt_recovered: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0), server_default="0")
    change_in: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0), server_default="0")
    change_out: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0), server_default="0")
    reversed_at: Mapped[datetime | None]
    reversed_by_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    reprint_count: Mapped[int] = mapped_column(default=0, server_default="0")
    # cash: paid at the desk; bank: paid by the customer's pending bank payments.
    tender: Mapped[str] = mapped_column(String(8), default="cash", server_default="cash")
    # The cashier session open for the operator when the vend was sold (None: no session).
    session_id: Mapped[int | None] = mapped_column(ForeignKey("cashier_sessions.id"), index=True)

    meter: Mapped[Meter] = relationship()
    card: Mapped[Card] = relationship()
    station: Mapped[Station] = relationship()
    operator: Mapped[Operator] = relationship(foreign_keys=[operator_id])
    tariff: Mapped[Tariff] = relationship()


class Debt(Base):
    """Arrears recovered from purchases: a percentage of each payment and/or a fixed amount."""

    __tablename__ = "debts"
    __table_args__ = (
        CheckConstraint("outstanding >= 0", name="outstanding"),
        CheckConstraint("outstanding <= principal", name="not_above_principal"),
        CheckConstraint("recovery_percent >= 0 AND recovery_percent <= 1000000", name="percent"),
        CheckConstraint("recovery_fixed >= 0", name="fixed"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"), index=True)
    description: Mapped[str] = mapped_column(String(200))
    principal: Mapped[Decimal]
    outstanding: Mapped[Decimal]
    recovery_percent: Mapped[Decimal] = mapped_column(PRICE)
    recovery_fixed: Mapped[Decimal]
    created_at: Mapped[datetime]


class DebtRecovery(Base):
    """The part of one vend that went to one debt (undone if the vend is reversed)."""

    __tablename__ = "debt_recoveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    vend_id: Mapped[int] = mapped_column(ForeignKey("vends.id"), index=True)
    debt_id: Mapped[int] = mapped_column(ForeignKey("debts.id"), index=True)
    amount: Mapped[Decimal]


class ParameterChange(Base):
    """Meter parameters (alarm thresholds …) waiting for the next card write of the meter."""

    __tablename__ = "parameter_changes"
    __table_args__ = (CheckConstraint(_in("status", PARAMETER_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"), index=True)
    params: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="queued")
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    vend_id: Mapped[int | None] = mapped_column(ForeignKey("vends.id"))
    written_at: Mapped[datetime | None]


class AuditEvent(Base):
    """Append-only, keyed-hash-chained record of one state change (see rig.billing.audit)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(unique=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))  # unique by construction (covers seq)
    # Id of the audit key whose HMAC ``hash`` is; NULL: a legacy SHA-256 event (migration 0009)
    key_id: Mapped[str | None] = mapped_column(String(16))


class Readback(Base):
    """A readback exactly as received; never edited, so a reconciliation can be replayed."""

    __tablename__ = "readbacks"
    __table_args__ = (CheckConstraint(_in("credit_unit", CREDIT_UNITS), name="credit_unit"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"), index=True)
    card_serial: Mapped[str | None] = mapped_column(String(64))
    energy_wh: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    overdraft: Mapped[int] = mapped_column(BigInteger)
    purchase_count: Mapped[int]
    last_sequence: Mapped[int]
    cumulative_purchase: Mapped[int] = mapped_column(BigInteger)
    credit_unit: Mapped[str] = mapped_column(String(16))
    relay_open: Mapped[bool]
    alarm_active: Mapped[bool]
    alarm_count: Mapped[int]
    cutoff_count: Mapped[int]
    tamper_count: Mapped[int]
    power_down_count: Mapped[int]
    meter_timestamp: Mapped[datetime]
    tariff_version: Mapped[int]
    mac_verified: Mapped[bool]
    raw_hex: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(index=True)


class Reconciliation(Base):
    """Outcome of reconciling one readback; a mismatch row is the reconciliation exception."""

    __tablename__ = "reconciliations"
    __table_args__ = (CheckConstraint(_in("verdict", VERDICTS), name="verdict"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"), index=True)
    readback_id: Mapped[int] = mapped_column(ForeignKey("readbacks.id"), index=True)
    verdict: Mapped[str] = mapped_column(String(16), index=True)
    expected_purchase: Mapped[int] = mapped_column(BigInteger)
    actual_purchase: Mapped[int] = mapped_column(BigInteger)
    expected_consumed: Mapped[Decimal] = mapped_column(Exact)
    actual_consumed: Mapped[Decimal] = mapped_column(Exact)
    evidence: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class CashierSession(Base):
    """A cashier's shift at one station: vends sold while it is open belong to it (cash-up)."""

    __tablename__ = "cashier_sessions"
    __table_args__ = (CheckConstraint(_in("status", SESSION_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"), index=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    status: Mapped[str] = mapped_column(String(8), default="open")
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    opening_float: Mapped[Decimal]
    counted_cash: Mapped[Decimal | None] = mapped_column(MONEY)

    operator: Mapped[Operator] = relationship()
    station: Mapped[Station] = relationship()


class BankStatement(Base):
    """One imported statement file; ``sha256`` of its bytes makes a re-import a no-op."""

    __tablename__ = "bank_statements"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    file_name: Mapped[str] = mapped_column(String(500))
    format: Mapped[str] = mapped_column(String(16))
    statement_id: Mapped[str] = mapped_column(String(100))
    imported_at: Mapped[datetime]


class BankPayment(Base):
    """A customer payment from a statement, keyed by the bank's own entry reference.

    ``pending`` payments are vended (tender ``bank``) at the meter's next card presentation;
    ``unmatched`` ones keep the statement data and the reason, for a supervisor. A
    ``credit_return`` (a returned collection or reversed credit transfer) cancels the credit it
    names (``returns_id``): that one becomes ``returned`` — and, if it was vended, a debt
    (``debt_id``) on its meter — and the return itself ``applied``.
    """

    __tablename__ = "bank_payments"
    __table_args__ = (
        CheckConstraint(_in("status", PAYMENT_STATUSES), name="status"),
        CheckConstraint(_in("kind", PAYMENT_KINDS), name="kind"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_ref: Mapped[str] = mapped_column(String(140), unique=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("bank_statements.id"), index=True)
    source: Mapped[str] = mapped_column(String(600))  # file:line of the entry
    amount: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    booked_on: Mapped[datetime]
    reference: Mapped[str] = mapped_column(String(500))
    debtor: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    meter_id: Mapped[int | None] = mapped_column(ForeignKey("meters.id"), index=True)
    vend_id: Mapped[int | None] = mapped_column(ForeignKey("vends.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="credit", server_default="credit")
    end_to_end_id: Mapped[str | None] = mapped_column(String(35), index=True)
    mandate_ref: Mapped[str | None] = mapped_column(String(35))
    return_code: Mapped[str | None] = mapped_column(String(35))
    returns_id: Mapped[int | None] = mapped_column(ForeignKey("bank_payments.id"), unique=True)
    debt_id: Mapped[int | None] = mapped_column(ForeignKey("debts.id"))


class CentreSetting(Base):
    """One setting of the whole centre, e.g. ``currency``: the ISO 4217 code it bills in."""

    __tablename__ = "centre_settings"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


class DebitMandate(Base):
    """A SEPA direct-debit mandate: the customer is on auto-payment of ``amount`` per run."""

    __tablename__ = "debit_mandates"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), unique=True)
    mandate_ref: Mapped[str] = mapped_column(String(35), unique=True)
    iban: Mapped[str] = mapped_column(String(34))
    bic: Mapped[str | None] = mapped_column(String(11))
    debtor_name: Mapped[str] = mapped_column(String(140))
    signed_on: Mapped[datetime]
    amount: Mapped[Decimal]
    active: Mapped[bool] = mapped_column(default=True)

    customer: Mapped[Customer] = relationship()


class DirectDebit(Base):
    """One collection requested in an exported pain.008 file (FRST for a mandate's first)."""

    __tablename__ = "direct_debits"

    id: Mapped[int] = mapped_column(primary_key=True)
    end_to_end_id: Mapped[str] = mapped_column(String(35), unique=True)
    mandate_id: Mapped[int] = mapped_column(ForeignKey("debit_mandates.id"), index=True)
    collection_date: Mapped[datetime]
    amount: Mapped[Decimal]
    sequence_type: Mapped[str] = mapped_column(String(4))
    created_at: Mapped[datetime]


class ApiToken(Base):
    """A bearer token of the REST API, bound to one operator; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"), index=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(100))
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(100))
    expires_at: Mapped[datetime | None]  # NULL: never (migration 0011)
    # Codes of the stations this token may sell at; NULL or empty: none (migration 0011).
    stations: Mapped[list[str] | None] = mapped_column(JSON)

    operator: Mapped[Operator] = relationship()


class OperatorCredential(Base):
    """An operator's console password, as a salted KDF hash (``rig.billing.passwords``).

    Kept apart from ``operators`` so an operator without a password (a bench script, an API
    token holder) simply cannot log in to the console.
    """

    __tablename__ = "operator_credentials"

    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    changed_at: Mapped[datetime]


AGENT_ENTRY_KINDS = ("topup", "vend", "reversal")


class Agent(Base):
    """A vending agent (third-party shop) selling on a prepaid float plus a credit limit."""

    __tablename__ = "agents"
    __table_args__ = (CheckConstraint("credit_limit >= 0", name="credit_limit"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    credit_limit: Mapped[Decimal]
    created_at: Mapped[datetime]


class AgentStation(Base):
    """A station that sells for an agent: its cash sales draw down the agent's float."""

    __tablename__ = "agent_stations"

    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"), primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), index=True)


class AgentEntry(Base):
    """One movement of an agent's float: a top-up (+), a vend (−) or a vend's reversal (+).

    The balance is the exact sum of the entries; nothing stores it twice.
    """

    __tablename__ = "agent_entries"
    __table_args__ = (CheckConstraint(_in("kind", AGENT_ENTRY_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal]
    vend_id: Mapped[int | None] = mapped_column(ForeignKey("vends.id"), index=True)
    reference: Mapped[str] = mapped_column(String(200), default="")
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime]
