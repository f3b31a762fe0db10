"""Read-only lookups: the operators' search screens, the REST API's GETs, the daily sales."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from rig.billing import models as m
from rig.billing.centre import lookup
from rig.billing.centre.errors import NotFound
from rig.billing.centre.rows import (
    card_info,
    customer_info,
    meter_info,
    operator_info,
    vend_result,
)
from rig.billing.centre.uow import UnitOfWork
from rig.billing.types import (
    CardInfo,
    CustomerInfo,
    DailySales,
    MeterInfo,
    OperatorInfo,
    StationInfo,
    VendResult,
    VendStatus,
)


class Queries:
    """Customers, meters, cards, operators, stations and vends as plain values."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def customers(self, query: str | None = None, *, limit: int = 100) -> list[CustomerInfo]:
        """Customers whose name, account number or address contains ``query`` (any case),
        or whose meter number starts with it; all customers without a query."""
        with self.uow.transaction("customers") as s:
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
            return [customer_info(c) for c in s.scalars(q)]

    def customer(self, account_no: str) -> CustomerInfo:
        with self.uow.transaction("customer") as s:
            row = s.scalar(select(m.Customer).where(m.Customer.account_no == account_no))
            if row is None:
                raise NotFound(f"no customer with account {account_no!r}")
            return customer_info(row)

    def meters(self, customer_account: str | None = None) -> list[MeterInfo]:
        with self.uow.transaction("meters") as s:
            q = select(m.Meter).order_by(m.Meter.meter_no)
            if customer_account is not None:
                q = q.join(m.Customer).where(m.Customer.account_no == customer_account)
            return [meter_info(x) for x in s.scalars(q)]

    def meter(self, meter_no: str) -> MeterInfo:
        with self.uow.transaction("meter") as s:
            return meter_info(lookup.meter(s, meter_no))

    def cards(self, meter_no: str) -> list[CardInfo]:
        with self.uow.transaction("cards") as s:
            meter = lookup.meter(s, meter_no)
            rows = s.scalars(select(m.Card).where(m.Card.meter_id == meter.id).order_by(m.Card.id))
            return [card_info(c) for c in rows]

    def card(self, card_serial: str) -> CardInfo:
        """The card with this serial (the customer presents a card at the counter)."""
        with self.uow.transaction("card") as s:
            row = s.scalar(select(m.Card).where(m.Card.card_serial == card_serial))
            if row is None:
                raise NotFound(f"no card {card_serial}")
            return card_info(row)

    def operators(self) -> list[OperatorInfo]:
        with self.uow.transaction("operators") as s:
            return [operator_info(o)
                    for o in s.scalars(select(m.Operator).order_by(m.Operator.name))]

    def stations(self) -> list[StationInfo]:
        with self.uow.transaction("stations") as s:
            return [StationInfo(x.id, x.code)
                    for x in s.scalars(select(m.Station).order_by(m.Station.code))]

    def vend_by_id(self, vend_id: int) -> VendResult:
        with self.uow.transaction("vend_by_id") as s:
            return vend_result(lookup.vend(s, vend_id))

    def vends_for_meter(self, meter_no: str) -> list[VendResult]:
        with self.uow.transaction("vends_for_meter") as s:
            meter = lookup.meter(s, meter_no)
            rows = s.scalars(select(m.Vend).where(m.Vend.meter_id == meter.id)
                             .order_by(m.Vend.sequence)).all()
            return [vend_result(v) for v in rows]

    def daily_sales(self, day: date) -> DailySales:
        """Vends created on ``day`` (UTC), excluding reversed ones; sums in exact Decimal."""
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        with self.uow.transaction("daily_sales") as s:
            rows = s.execute(
                select(m.Vend.amount, m.Vend.credit, m.Vend.credit_unit, m.Station.code)
                .join(m.Station, m.Station.id == m.Vend.station_id)
                .where(m.Vend.created_at >= start,
                       m.Vend.created_at < start + timedelta(days=1),
                       m.Vend.status != VendStatus.REVERSED.value)
            ).all()
        total = Decimal("0.00")
        by_unit: dict[str, int] = {}
        by_station: dict[str, Decimal] = {}
        for amount, credit, unit, station in rows:
            total += amount
            by_unit[unit] = by_unit.get(unit, 0) + credit
            by_station[station] = by_station.get(station, Decimal("0.00")) + amount
        return DailySales(day, len(rows), total, by_unit, by_station)
