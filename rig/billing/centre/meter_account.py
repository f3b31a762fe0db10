"""A meter's account beside its vends: debts recovered from its purchases, and parameters
queued to ride on its next card write."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rig.billing import inputs
from rig.billing import models as m
from rig.billing.centre import lookup
from rig.billing.centre.access import Access
from rig.billing.centre.rows import debt_info
from rig.billing.centre.uow import UnitOfWork
from rig.billing.tariffs import CENT
from rig.billing.types import DebtInfo
from rig.errors import BillingError

PARAMETERS = frozenset({"alarm1", "alarm2"})


class MeterAccount:
    """Debts and queued meter parameters."""

    def __init__(self, uow: UnitOfWork, access: Access) -> None:
        self.uow = uow
        self.access = access

    def queue_parameters(self, meter_no: str, *, operator: str, **params: int) -> dict[str, Any]:
        """Queue meter parameters (``alarm1``, ``alarm2`` in credit units) for the next card
        write. They appear on ``VendResult.parameters`` of every vend until one is marked
        written, and in :meth:`pending_parameters`; returns the merged pending set."""
        unknown = set(params) - PARAMETERS
        if unknown or not params:
            raise BillingError(
                f"parameters must be some of {sorted(PARAMETERS)}, got {sorted(params)}")
        for k, v in params.items():
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise BillingError(f"parameter {k}={v!r} must be a non-negative int")
            inputs.check_credit(v, k)
        with self.uow.transaction("queue_parameters") as s:
            self.access.require_role(s, operator, "change meter parameters")
            meter = lookup.meter(s, meter_no)
            merged = {**(lookup.pending_parameters(s, meter.id) or {}), **params}
            if "alarm1" in merged and "alarm2" in merged and merged["alarm2"] > merged["alarm1"]:
                raise BillingError(f"alarm2 {merged['alarm2']} would be above alarm1 "
                                   f"{merged['alarm1']} on meter {meter_no}")
            row = m.ParameterChange(meter_id=meter.id, params=dict(params), status="queued",
                                    actor=operator, created_at=self.uow.now())
            s.add(row)
            s.flush()
            self.uow.audit(s, operator, "parameters.queue", "meter", meter.id, None,
                           dict(params))
            return lookup.pending_parameters(s, meter.id) or {}

    def pending_parameters(self, meter_no: str) -> dict[str, Any] | None:
        """Parameters waiting for the meter's next card write (None if nothing is queued)."""
        with self.uow.transaction("pending_parameters") as s:
            return lookup.pending_parameters(s, lookup.meter(s, meter_no).id)

    def add_debt(
        self, meter_no: str, principal: Decimal, description: str, *,
        recovery_percent: Decimal = Decimal(0), recovery_fixed: Decimal = Decimal("0.00"),
        operator: str = "system",
    ) -> DebtInfo:
        """Record arrears to recover from the meter's purchases (percent and/or fixed per vend)."""
        principal = lookup.decimal(principal, "principal")
        pct = lookup.decimal(recovery_percent, "recovery_percent")
        fixed = lookup.decimal(recovery_fixed, "recovery_fixed")
        if principal <= 0 or principal != principal.quantize(CENT):
            raise BillingError(f"debt principal {principal} must be positive whole cents")
        if not (0 <= pct <= 100) or (pct == 0 and fixed == 0) or fixed < 0:
            raise BillingError("debt recovery needs a percent in 0…100 and/or a positive fixed "
                               f"amount (got {pct}% and {fixed})")
        with self.uow.transaction("add_debt") as s:
            self.access.require_role(s, operator, "record a debt", allow_system=True)
            return self.record_debt(s, lookup.meter(s, meter_no), principal, description,
                                    recovery_percent=pct, recovery_fixed=fixed, actor=operator)

    def record_debt(self, s: Session, meter: m.Meter, principal: Decimal, description: str, *,
                    recovery_percent: Decimal, recovery_fixed: Decimal,
                    actor: str) -> DebtInfo:
        """Insert and audit a debt inside the caller's transaction (a bank return makes one
        in the same transaction that cancels the payment)."""
        row = m.Debt(meter_id=meter.id, description=description, principal=principal,
                     outstanding=principal, recovery_percent=recovery_percent,
                     recovery_fixed=recovery_fixed, created_at=self.uow.now())
        s.add(row)
        s.flush()
        info = debt_info(row, meter.meter_no)
        self.uow.audit(s, actor, "debt.add", "debt", row.id, None, info)
        return info

    def debts(self, meter_no: str) -> list[DebtInfo]:
        with self.uow.transaction("debts") as s:
            meter = lookup.meter(s, meter_no)
            rows = s.scalars(select(m.Debt).where(m.Debt.meter_id == meter.id).order_by(m.Debt.id))
            return [debt_info(d, meter_no) for d in rows]
