"""Cashier sessions: a cashier's shift at a station, from the float counted in to the cash
counted out (the cash-up report compares them)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from rig.billing import models as m
from rig.billing.centre import lookup
from rig.billing.centre.access import Access
from rig.billing.centre.errors import Conflict, NotFound, PermissionDenied
from rig.billing.centre.rows import session_info
from rig.billing.centre.uow import UnitOfWork
from rig.billing.tariffs import CENT
from rig.billing.types import CashierSessionInfo, OperatorRole
from rig.errors import BillingError


def _whole_cents(value: Decimal, what: str) -> Decimal:
    amount = lookup.decimal(value, what)
    if amount < 0 or amount != amount.quantize(CENT):
        raise BillingError(f"{what} {amount} must be ≥ 0 in whole cents")
    return amount


class CashierSessions:
    """Opening and closing cashier shifts."""

    def __init__(self, uow: UnitOfWork, access: Access) -> None:
        self.uow = uow
        self.access = access

    def open_session(
        self, operator: str, station: str, opening_float: Decimal = Decimal("0.00")
    ) -> CashierSessionInfo:
        """Open a cashier's shift: the operator's vends at ``station`` belong to it until closed."""
        float_ = _whole_cents(opening_float, "opening float")
        with self.uow.transaction("open_session") as s:
            op_row = self.access.operator(s, operator)
            st = lookup.station(s, station)
            already = s.scalar(select(m.CashierSession).where(
                m.CashierSession.operator_id == op_row.id, m.CashierSession.status == "open"))
            if already is not None:
                raise Conflict(f"operator {operator!r} already has session {already.id} open "
                               f"at {already.station.code}; close it first")
            row = m.CashierSession(operator=op_row, station=st, status="open",
                                   opened_at=self.uow.now(), opening_float=float_)
            s.add(row)
            s.flush()
            info = session_info(row)
            self.uow.audit(s, operator, "session.open", "cashier_session", row.id, None, info)
            return info

    def close_session(self, session_id: int, *, operator: str,
                      counted_cash: Decimal) -> CashierSessionInfo:
        """Close a shift with the cash counted in the drawer (the cash-up report compares it)."""
        counted = _whole_cents(counted_cash, "counted cash")
        with self.uow.transaction("close_session") as s:
            op_row = self.access.operator(s, operator)
            row = s.get(m.CashierSession, lookup.row_id(session_id))
            if row is None:
                raise NotFound(f"no cashier session {session_id}")
            if row.status != "open":
                raise Conflict(f"cashier session {session_id} is already closed")
            if row.operator_id != op_row.id and op_row.role == OperatorRole.CASHIER.value:
                raise PermissionDenied(f"session {session_id} belongs to {row.operator.name}; "
                                       f"cashier {operator!r} may not close it")
            before = session_info(row)
            row.status, row.closed_at, row.counted_cash = "closed", self.uow.now(), counted
            after = session_info(row)
            self.uow.audit(s, operator, "session.close", "cashier_session", row.id, before,
                           after)
            return after

    def open_session_of(self, operator: str) -> CashierSessionInfo | None:
        """The operator's open cashier session, if any."""
        with self.uow.transaction("open_session_of") as s:
            row = s.scalar(select(m.CashierSession).join(m.Operator).where(
                m.Operator.name == operator, m.CashierSession.status == "open"))
            return None if row is None else session_info(row)
