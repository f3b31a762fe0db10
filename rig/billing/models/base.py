"""The schema's foundations: exact money and UTC column types, value lists of the CHECK
constraints, constraint naming, and the declarative base every table builds on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    DateTime,
    MetaData,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from rig.billing.money import Money, Price
from rig.billing.types import (
    CardStatus,
    MeterStatus,
    OperatorRole,
    VendKind,
    VendStatus,
    Verdict,
)
from rig.credit_unit import CreditUnit

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
    if value.tzinfo is UTC:  # already: no new datetime (every sale's clock reading)
        return value
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


class JsonText(TypeDecorator[str]):
    """A JSON column's bind for a value that is already JSON text (written as it is): the
    audit event's canonical JSON, a sale's receipt lines."""

    impl = JSON
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> None:
        return None


def _sqlite_utc_text(value: datetime | None) -> str | None:
    """UTC as SQLite stores a ``DateTime`` (SQLAlchemy's storage format, always with six
    decimals, so text order is time order), made by ``isoformat`` in C. A sale binds four: its
    one instant three times (the context's "now", the vend, the audit event) and the month's
    start, so the last two made are kept (datetimes are immutable; the pairs are replaced
    whole, so threads only ever miss)."""
    global _RECENT_UTC_TEXT
    if value is None:
        return None
    recent = _RECENT_UTC_TEXT
    if recent[0] is value:
        return recent[1]
    if recent[2] is value:
        return recent[3]
    given = value
    if value.tzinfo is not UTC:
        value = to_utc(value)
    text = value.isoformat(" ", "microseconds")[:-6]  # without "+00:00"
    _RECENT_UTC_TEXT = (given, text, recent[0], recent[1])
    return text


_RECENT_UTC_TEXT: tuple[datetime | None, str, datetime | None, str] = (None, "", None, "")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


CREDIT_UNITS = tuple(u.value for u in CreditUnit)
VEND_STATUSES = tuple(s.value for s in VendStatus)
VEND_KINDS = tuple(k.value for k in VendKind)
TARIFF_KINDS = ("flat", "block", "tou")
PARAMETER_STATUSES = ("queued", "written", "cancelled")
CARD_STATUSES = tuple(s.value for s in CardStatus)
METER_STATUSES = tuple(s.value for s in MeterStatus)
OPERATOR_ROLES = tuple(r.value for r in OperatorRole)
VERDICTS = tuple(v.value for v in Verdict)
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
