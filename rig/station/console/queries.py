"""Read-only look-ups the console screens need and the centre's API does not offer.

They read the ledger in one transaction each (as the reports do) and return plain tuples
or dataclasses; every change still goes through :class:`BillingCentre` methods.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, or_, select

from rig.billing import models as m
from rig.billing.centre.facade import BillingCentre
from rig.billing.types import CashierSessionInfo

MAX_ROWS = 50


@dataclass(frozen=True)
class Hit:
    """One search result row: a meter with its customer and its current card."""

    account_no: str
    customer: str
    address: str
    meter_no: str | None
    card_serial: str | None
    card_status: str | None


@dataclass(frozen=True)
class VendRow:
    vend_id: int
    meter_no: str
    customer: str
    sequence: int
    amount: Decimal
    kind: str
    status: str
    station: str
    operator: str
    created_at: datetime


def search(centre: BillingCentre, query: str) -> list[Hit]:
    """Customers / meters / cards whose name, account, address, meter number or card serial
    contains ``query`` (any case)."""
    like = f"%{query.strip().lower()}%"
    with centre.uow.reading("search customers") as s:
        rows = s.execute(
            select(m.Customer, m.Meter)
            .outerjoin(m.Meter, m.Meter.customer_id == m.Customer.id)
            .outerjoin(m.Card, m.Card.meter_id == m.Meter.id)
            .where(or_(func.lower(m.Customer.name).like(like),
                       func.lower(m.Customer.account_no).like(like),
                       func.lower(m.Customer.address).like(like),
                       m.Meter.meter_no.like(like),
                       func.lower(m.Card.card_serial).like(like)))
            .distinct().order_by(m.Customer.account_no, m.Meter.meter_no).limit(MAX_ROWS)
        ).all()
        hits = []
        for customer, meter in rows:
            card = None
            if meter is not None:
                card = s.scalar(select(m.Card).where(m.Card.meter_id == meter.id)
                                .order_by(m.Card.status != "active", m.Card.id.desc()).limit(1))
            hits.append(Hit(customer.account_no, customer.name, customer.address,
                            meter.meter_no if meter else None,
                            card.card_serial if card else None, card.status if card else None))
        return hits


def customer_of(centre: BillingCentre, meter_no: str) -> tuple[str, str, str]:
    """(name, account, address) of the meter's customer."""
    with centre.uow.reading("look up a meter's customer") as s:
        c = s.scalar(select(m.Customer).join(m.Meter, m.Meter.customer_id == m.Customer.id)
                     .where(m.Meter.meter_no == meter_no))
        return (c.name, c.account_no, c.address) if c else ("", "", "")


def cards(centre: BillingCentre, meter_no: str) -> list[tuple[str, str, datetime]]:
    """(serial, status, issued_at) of every card the meter ever had, newest first."""
    with centre.uow.reading("list a meter's cards") as s:
        return [(c.card_serial, c.status, c.issued_at) for c in s.scalars(
            select(m.Card).join(m.Meter, m.Meter.id == m.Card.meter_id)
            .where(m.Meter.meter_no == meter_no).order_by(m.Card.id.desc()))]


def vends(centre: BillingCentre, *, statuses: tuple[str, ...] = (), meter_no: str | None = None,
          limit: int = MAX_ROWS) -> list[VendRow]:
    """Newest vends first, optionally only some statuses or one meter."""
    with centre.uow.reading("list vends") as s:
        q = (select(m.Vend, m.Meter.meter_no, m.Customer.name, m.Station.code, m.Operator.name)
             .join(m.Meter, m.Meter.id == m.Vend.meter_id)
             .join(m.Customer, m.Customer.id == m.Meter.customer_id)
             .join(m.Station, m.Station.id == m.Vend.station_id)
             .join(m.Operator, m.Operator.id == m.Vend.operator_id)
             .order_by(m.Vend.id.desc()).limit(limit))
        if statuses:
            q = q.where(m.Vend.status.in_(statuses))
        if meter_no is not None:
            q = q.where(m.Meter.meter_no == meter_no)
        return [VendRow(v.id, no, name, v.sequence, v.amount, v.kind, v.status, st, op,
                        v.created_at) for v, no, name, st, op in s.execute(q)]


def open_session(centre: BillingCentre, operator: str) -> CashierSessionInfo | None:
    with centre.uow.reading("look up an open cashier session") as s:
        row = s.scalar(select(m.CashierSession).join(m.Operator)
                       .where(m.Operator.name == operator, m.CashierSession.status == "open"))
        if row is None:
            return None
        return CashierSessionInfo(row.id, row.operator.name, row.station.code, row.status,
                                  row.opened_at, row.closed_at, row.opening_float,
                                  row.counted_cash)


def operators(centre: BillingCentre) -> list[tuple[str, str, bool]]:
    """(name, role, has a console password) of every operator."""
    with centre.uow.reading("list operators") as s:
        with_pw = set(s.scalars(select(m.OperatorCredential.operator_id)))
        return [(o.name, o.role, o.id in with_pw)
                for o in s.scalars(select(m.Operator).order_by(m.Operator.name))]


def stations(centre: BillingCentre) -> list[str]:
    with centre.uow.reading("list stations") as s:
        return list(s.scalars(select(m.Station.code).order_by(m.Station.code)))
