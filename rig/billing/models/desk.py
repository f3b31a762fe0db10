"""The desk's tables: cashier sessions, bank statements and payments, direct debits, the
centre's settings, API tokens, console passwords and vending agents."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rig.billing.models.base import (
    MONEY,
    PAYMENT_KINDS,
    PAYMENT_STATUSES,
    SESSION_STATUSES,
    Base,
    _in,
)
from rig.billing.models.ledger import Customer, Operator, Station


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
