"""Everything a sale needs to know about a meter, read in one round trip.

A vend checks the meter, its active card, an unapplied purchase, the request id, station,
operator, cashier session, agent, tariff version in effect, this month's usage, debts, queued
parameters, the latest readback (hoarding) and — on SQLite — the audit chain's head. Asked one
by one through the ORM that was seventeen statements and most of a vend's time; here it is one
SELECT of correlated scalar subqueries, built once and executed with fresh parameters.

It must run where the meter can no longer change under it: on SQLite inside ``BEGIN
IMMEDIATE``, on PostgreSQL after the meter row is locked ``FOR UPDATE`` (READ COMMITTED gives
this statement a snapshot taken after the lock, so a concurrent vend committed meanwhile is seen).
The audit head is only read here on SQLite, where the write lock already serialises appends;
PostgreSQL takes the audit advisory lock just before commit (:func:`rig.billing.audit.defer`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import Select, bindparam, func, or_, select
from sqlalchemy.orm import aliased

from rig.billing import models as m
from rig.billing.centre.hoarding_check import USABLE
from rig.billing.centre.lookup import UNAPPLIED, settled_sequence
from rig.billing.types import CardStatus, VendKind, VendStatus


class VendContext(NamedTuple):
    """Immutable; a named tuple, not a dataclass: made once per sale, from 26 values (a frozen
    dataclass took 4-6 µs of a sale to set them one by one)."""

    meter_id: int
    status: str
    credit_unit: str
    key_revision: int
    last_sequence: int
    change_balance: Decimal
    hoarding_limit: int | None
    tariff_code: str  # the meter's tariff code; ``tariff_id`` is its version in effect
    tariff_id: int | None
    existing_vend_id: int | None  # a vend already made with this request id
    card_id: int | None
    card_serial: str | None
    pending_sequence: int | None  # lowest unapplied (created/written) sequence
    unconfirmed_credit: int
    station_id: int | None
    operator_id: int | None
    session_id: int | None
    has_agent: bool
    month_credit: int  # credit of this month's sales (block tariffs count energy bought)
    has_debts: bool
    has_parameters: bool
    readback_balance: int | None  # remaining − overdraft of the latest usable readback (MAC-
    # verified, or a keypad meter's serial one: rig.billing.centre.hoarding_check.USABLE)
    is_sts: bool  # an STS keypad meter: the sale makes a token, no card is written
    sts_currency_step: str | None  # its currency token's step (decimal text), if STS
    audit_head: tuple[int, str, str | None] | None  # newest audit event's (seq, hash, key_id);
    # SQLite only


@functools.cache
def _statement(with_audit_head: bool) -> Select[tuple[object, ...]]:
    meter, tariff = m.Meter, m.Tariff
    version = aliased(m.Tariff)
    vend, card, readback = m.Vend, m.Card, m.Readback
    station = select(m.Station.id).where(m.Station.code == bindparam("station"))
    operator = select(m.Operator.id).where(m.Operator.name == bindparam("operator"))
    active_card = (card.meter_id == meter.id) & (card.status == CardStatus.ACTIVE.value)
    # Not ``in_()``: an expanding IN is re-rendered at every execution. Only vends after the
    # settled watermark can be unapplied: the range on (meter_id, sequence) skips history.
    unapplied = ((vend.meter_id == meter.id) & (vend.sequence > settled_sequence(meter.id))
                 & or_(*(vend.status == x for x in UNAPPLIED)))
    columns: dict[str, Any] = {
        "meter_id": meter.id, "status": meter.status, "credit_unit": meter.credit_unit,
        "key_revision": meter.key_revision, "last_sequence": meter.last_sequence,
        "change_balance": meter.change_balance, "hoarding_limit": meter.hoarding_limit,
        "tariff_code": tariff.code,
        "tariff_id": select(version.id).where(
            version.code == tariff.code, version.effective_from <= bindparam("now"))
        .order_by(version.effective_from.desc(), version.version.desc()).limit(1),
        "existing_vend_id": select(vend.id).where(vend.request_id == bindparam("request_id")),
        "card_id": select(func.max(card.id)).where(active_card),
        "card_serial": select(card.card_serial).where(active_card).order_by(card.id.desc())
        .limit(1),
        "pending_sequence": select(func.min(vend.sequence)).where(unapplied),
        "unconfirmed_credit": select(func.coalesce(func.sum(vend.credit), 0)).where(unapplied),
        "station_id": station,
        "operator_id": operator,
        "session_id": select(m.CashierSession.id).where(
            m.CashierSession.operator_id == operator.scalar_subquery(),
            m.CashierSession.station_id == station.scalar_subquery(),
            m.CashierSession.status == "open").limit(1),
        "has_agent": select(func.count()).select_from(m.AgentStation)
        .where(m.AgentStation.station_id == station.scalar_subquery()),
        "month_credit": select(func.coalesce(func.sum(vend.credit), 0)).where(
            vend.meter_id == meter.id, vend.created_at >= bindparam("month_start"),
            vend.status != VendStatus.REVERSED.value, vend.kind == VendKind.SALE.value),
        "has_debts": select(func.count()).select_from(m.Debt)
        .where(m.Debt.meter_id == meter.id, m.Debt.outstanding > 0),
        "has_parameters": select(func.count()).select_from(m.ParameterChange).where(
            m.ParameterChange.meter_id == meter.id, m.ParameterChange.status == "queued"),
        "readback_balance": select(readback.remaining - readback.overdraft)
        .where(readback.meter_id == meter.id, USABLE).order_by(readback.id.desc()).limit(1),
        "sts_currency_step": select(m.StsMeter.currency_step)
        .where(m.StsMeter.meter_id == meter.id),
    }
    if with_audit_head:
        newest = select(m.AuditEvent.seq).order_by(m.AuditEvent.seq.desc()).limit(1)
        columns["audit_seq"] = newest
        columns["audit_hash"] = newest.with_only_columns(m.AuditEvent.hash)
        columns["audit_key_id"] = newest.with_only_columns(m.AuditEvent.key_id)
    labelled = [(c.scalar_subquery() if isinstance(c, Select) else c).label(name)
                for name, c in columns.items()]
    return (select(*labelled).join_from(meter, tariff, meter.tariff_id == tariff.id)
            .where(meter.meter_no == bindparam("meter_no")))


def fetch(one: Callable[[Select[tuple[object, ...]], dict[str, Any]], dict[str, Any] | None], *,
          meter_no: str, request_id: str, station: str, operator: str, now: datetime,
          month_start: datetime, with_audit_head: bool) -> VendContext | None:
    """The context of a sale to ``meter_no``, read by ``one`` (statement, values → the first
    row as a dict); None if no such meter is registered."""
    values = one(_statement(with_audit_head), {
        "meter_no": meter_no, "request_id": request_id, "station": station,
        "operator": operator, "now": now, "month_start": month_start})
    if values is None:
        return None
    seq = values.get("audit_seq")
    v = values.__getitem__
    return VendContext(  # positionally: a call with 26 keywords costs a sale a microsecond
        v("meter_id"), v("status"), v("credit_unit"), v("key_revision"), v("last_sequence"),
        v("change_balance"), v("hoarding_limit"), v("tariff_code"), v("tariff_id"),
        v("existing_vend_id"), v("card_id"), v("card_serial"), v("pending_sequence"),
        int(v("unconfirmed_credit")), v("station_id"), v("operator_id"), v("session_id"),
        bool(v("has_agent")), int(v("month_credit")), bool(v("has_debts")),
        bool(v("has_parameters")), v("readback_balance"), v("sts_currency_step") is not None,
        v("sts_currency_step"),
        (seq, v("audit_hash"), v("audit_key_id")) if seq is not None else None)
