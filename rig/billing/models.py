"""Billing centre schema (SQLAlchemy 2 typed ORM).

Rules that keep the ledger honest on every backend:

* money is ``Numeric`` → ``Decimal`` (amounts ``Numeric(14, 2)``, prices ``Numeric(12, 4)``);
  credit, energy and counters are integers (cents / Wh). No float column exists.
  On SQLite a NUMERIC value is stored as a double; with at most 14 significant digits it
  round-trips exactly, and the centre never lets SQL do arithmetic on money (sums are Decimal
  in Python).
* datetimes are stored as UTC and returned timezone-aware (:class:`UTCDateTime`).
* constraint names follow a fixed convention so later Alembic (batch) migrations can name them.

The schema is created only by Alembic migrations (``rig/billing/migrations``); a test asserts the
migrated schema equals this metadata.
"""

from __future__ import annotations

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
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

MONEY = Numeric(14, 2)
PRICE = Numeric(12, 4)


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


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


CREDIT_UNITS = ("money_cents", "energy_wh")
VEND_STATUSES = ("created", "written", "confirmed", "reversed")
CARD_STATUSES = ("active", "lost", "replaced", "blocked")
METER_STATUSES = ("active", "blocked")
OPERATOR_ROLES = ("cashier", "supervisor", "administrator")
VERDICTS = ("balanced", "mismatch")


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
    __table_args__ = (UniqueConstraint("code", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), index=True)
    version: Mapped[int]
    price_per_kwh: Mapped[Decimal] = mapped_column(PRICE)
    effective_from: Mapped[datetime]
    created_at: Mapped[datetime]


class Meter(Base):
    __tablename__ = "meters"
    __table_args__ = (
        CheckConstraint(_in("credit_unit", CREDIT_UNITS), name="credit_unit"),
        CheckConstraint(_in("status", METER_STATUSES), name="status"),
        CheckConstraint("last_sequence >= 0", name="last_sequence"),
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
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("credit >= 0", name="credit"),
        CheckConstraint("sequence >= 1", name="sequence"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[str] = mapped_column(String(64), unique=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"), index=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), index=True)
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

    meter: Mapped[Meter] = relationship()
    card: Mapped[Card] = relationship()
    station: Mapped[Station] = relationship()
    operator: Mapped[Operator] = relationship()
    tariff: Mapped[Tariff] = relationship()


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
    expected_consumed: Mapped[Decimal] = mapped_column(PRICE)
    actual_consumed: Mapped[Decimal] = mapped_column(PRICE)
    evidence: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
