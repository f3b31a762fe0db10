"""Finding rows and checking plain values, shared by every area (inside the caller's session)."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rig.billing import inputs
from rig.billing import models as m
from rig.billing.centre.errors import NotFound
from rig.billing.types import CardStatus, VendStatus
from rig.errors import BillingError

METER_NO = re.compile(r"[0-9]{12}")  # ASCII digits only (\d would take "１２")
UNAPPLIED = (VendStatus.CREATED.value, VendStatus.WRITTEN.value)


def settled_sequence(meter_id: Any) -> Any:
    """The meter's settled watermark sequence as an SQL expression (0 without one): every
    vend up to it is confirmed or reversed (:mod:`rig.billing.watermark`), so a search for
    unapplied vends starts after it instead of scanning the meter's whole history."""
    return (select(func.coalesce(func.max(m.ReconciledWatermark.last_sequence), 0))
            .where(m.ReconciledWatermark.meter_id == meter_id)
            .correlate_except(m.ReconciledWatermark).scalar_subquery())


def unapplied_vends(meter_id: Any) -> Any:
    """SQL condition: the meter's vends not yet applied (created or written)."""
    return ((m.Vend.meter_id == meter_id) & (m.Vend.sequence > settled_sequence(meter_id))
            & m.Vend.status.in_(UNAPPLIED))


def enum_value(kind: Any, value: Any, what: str) -> Any:
    """``value`` as a member of the enum ``kind``, or a refusal listing the allowed values."""
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(k.value for k in kind)
        raise BillingError(f"{what} {value!r} is not one of: {allowed}") from None


def decimal(value: Any, what: str) -> Decimal:
    """An exact finite number (a float is refused: money is never binary)."""
    if isinstance(value, float | bool) or not isinstance(value, Decimal | int | str):
        raise BillingError(f"{what} must be a Decimal (never float), got {value!r}")
    try:
        number = Decimal(value)
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite():
        raise BillingError(f"{what} {value!r} is not a finite decimal number")
    return number


def row_id(value: int) -> int:
    """A row id as asked for, or 0 (which no row has) when a BIGINT cannot hold it: looking it
    up then says "not found" instead of overflowing the driver."""
    ok = not isinstance(value, bool) and isinstance(value, int) and 0 < value <= inputs.ROW_ID_MAX
    return value if ok else 0


def meter(s: Session, meter_no: str, *, lock: bool = False) -> m.Meter:
    q = select(m.Meter).where(m.Meter.meter_no == meter_no)
    row = s.scalar(q.with_for_update() if lock else q)
    if row is None:
        raise NotFound(f"meter {meter_no} is not registered")
    return row


def station(s: Session, code: str) -> m.Station:
    row = s.scalar(select(m.Station).where(m.Station.code == code))
    if row is None:
        raise NotFound(f"station {code!r} is not registered")
    return row


def vend(s: Session, vend_id: int) -> m.Vend:
    row = s.get(m.Vend, row_id(vend_id))
    if row is None:
        raise NotFound(f"no vend {vend_id}")
    return row


def active_card(s: Session, meter: m.Meter) -> m.Card | None:
    return s.scalar(
        select(m.Card)
        .where(m.Card.meter_id == meter.id, m.Card.status == CardStatus.ACTIVE.value)
        .order_by(m.Card.id.desc())
        .limit(1)
    )


def tariff_in_effect(s: Session, code: str, at: datetime) -> m.Tariff | None:
    return s.scalar(
        select(m.Tariff)
        .where(m.Tariff.code == code, m.Tariff.effective_from <= at)
        .order_by(m.Tariff.effective_from.desc(), m.Tariff.version.desc())
        .limit(1)
    )


def committed_meanwhile(s: Session, request_id: str) -> m.Vend | None:
    """The vend with ``request_id``, read again once the meter row is locked.

    On PostgreSQL (READ COMMITTED) a retry that arrived while the original was still being
    written waits for the meter lock and only then can see the original's row; checking
    before the lock alone would refuse the retry as an unapplied purchase. On SQLite
    ``BEGIN IMMEDIATE`` serialises whole transactions and this finds nothing new.
    """
    return s.scalar(select(m.Vend).where(m.Vend.request_id == request_id))


def pending_parameters(s: Session, meter_id: int) -> dict[str, Any] | None:
    """Queued parameter changes of a meter merged oldest first (later values win)."""
    merged: dict[str, Any] = {}
    for change in s.scalars(select(m.ParameterChange).where(
        m.ParameterChange.meter_id == meter_id, m.ParameterChange.status == "queued",
    ).order_by(m.ParameterChange.id)):
        merged.update(change.params)
    return merged or None
