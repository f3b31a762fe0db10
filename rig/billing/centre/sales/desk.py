"""The sales desk: a vend (idempotent by request id), a price quote that only reads, the
pending bank payments vended at once, and the writer's "written" report.

A vend runs first in a direct DBAPI transaction (:mod:`.direct`), and again in an ORM session
when it needs one (:mod:`.sale_db`): both run the same steps (:mod:`.steps`).
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from rig.billing import models as m
from rig.billing.centre import lookup
from rig.billing.centre.errors import Conflict, VendRefused
from rig.billing.centre.pricing import Tariffs
from rig.billing.centre.rows import parameters_of, vend_result
from rig.billing.centre.sales import steps
from rig.billing.centre.sales.direct import Direct
from rig.billing.centre.sales.sale_db import DirectSale, NeedsSession, OrmSale, SaleDb
from rig.billing.centre.sts_desk import StsDesk
from rig.billing.centre.uow import UnitOfWork
from rig.billing.types import TariffInfo, VendLimits, VendResult, VendStatus
from rig.errors import BillingError


class Sales:
    """Selling credit: checks, price, sequence allocation and the audit of every sale."""

    def __init__(self, uow: UnitOfWork, tariffs: Tariffs, limits: VendLimits,
                 sts: StsDesk | None = None) -> None:
        self.uow = uow
        self.tariffs = tariffs
        self.limits = limits
        self.direct = Direct(uow.engine)
        self.sts = sts  # makes the token of a sale to an STS keypad meter

    def vend(
        self,
        meter_no: str,
        amount: Decimal,
        *,
        request_id: str,
        station: str,
        operator: str,
        require_session: bool = False,
    ) -> VendResult:
        """Sell credit for ``amount`` to ``meter_no`` and allocate its next purchase sequence.

        Idempotent by ``request_id``: a retry (lost reply, crashed writer) returns the original
        vend; the same id with different parameters is refused rather than guessed at.
        ``require_session``: refuse (``no_open_session``) unless ``operator`` has a cashier
        session open at ``station``, checked under the sale's lock (the REST API and the
        console ask it of cashiers).
        """
        amount = steps.exact_amount(amount)
        if not request_id:
            raise VendRefused("request_id_missing", "a vend needs a client request id")
        req = steps.SaleRequest(meter_no, amount, request_id, station, operator,
                                require_session=require_session)
        try:
            direct = self._direct_sale(req)
            if direct is not None:
                return direct
            with self.uow.transaction("vend") as s:  # a retry is recognised (and replayed)
                return self.sell(OrmSale(s), req)
        except IntegrityError:
            # A concurrent writer used this request id (or sequence) first: replay its result.
            with self.uow.transaction("vend") as s:
                existing = s.scalar(select(m.Vend).where(m.Vend.request_id == request_id))
                if existing is None:
                    raise Conflict(
                        f"another station vended to meter {meter_no} at the same moment; "
                        "retry the purchase"
                    ) from None
                return replay(existing, req)

    def _direct_sale(self, req: steps.SaleRequest) -> VendResult | None:
        """The sale in a direct transaction; None when it needs the ORM and nothing was
        written."""
        try:
            with self.uow.busy_as("vend"):
                with self.direct.transaction() as tx:
                    sale = DirectSale(tx, postgres=self.uow.postgres, key=self.uow.audit_key)
                    result = self.sell(sale, req)
                if sale.appended is not None:  # committed
                    self.uow.anchored(sale.appended)
                return result
        except NeedsSession:
            return None

    def sell(self, db: SaleDb, req: steps.SaleRequest) -> VendResult:
        """Check, price and record one sale in the caller's transaction (``db``)."""
        sale = self._priced(db, req, lock=True)
        if isinstance(sale, VendResult):
            return sale
        return steps.record(db, sale, self.uow.audit, self._token)

    def _token(self, db: SaleDb, sale: steps.PricedSale,
               vend_id: int) -> tuple[str, dict[str, Any]]:
        if self.sts is None:
            raise VendRefused("sts_unavailable", f"meter {sale.request.meter_no} takes STS "
                              "tokens and this centre has no STS desk")
        return self.sts.issue_credit(
            db, meter_id=sale.ctx.meter_id, meter_no=sale.request.meter_no, vend_id=vend_id,
            credit=sale.pricing.credit, credit_unit=sale.ctx.credit_unit,
            actor=sale.request.operator, now=sale.now)

    def _priced(self, db: SaleDb, req: steps.SaleRequest, *,
                lock: bool) -> steps.PricedSale | VendResult:
        """The sale checked and priced, or the earlier vend a retry of it replays."""
        now = self.uow.now()
        ctx = steps.read_context(db, req, now, postgres=self.uow.postgres, lock=lock)
        if ctx is None or ctx.existing_vend_id is not None:
            late = steps.late_retry(db, req)  # committed meanwhile, seen only under the lock
            if late is not None:
                return replay(late, req)
            raise VendRefused("unknown_meter", f"meter {req.meter_no} is not registered")
        steps.refuse_unsellable(db, req, ctx, self.limits)
        assert ctx.tariff_id is not None
        return steps.price(db, req, ctx, self._tariff(db, ctx.tariff_id), now, lock=lock)

    def _tariff(self, db: SaleDb, tariff_id: int) -> TariffInfo:
        """Cached, or read through the ORM (a direct sale that misses the cache hands over)."""
        return self.tariffs.cached(tariff_id) or self.tariffs.version(db.session, tariff_id)

    def quote_vend(
        self, meter_no: str, amount: Decimal, *, station: str, operator: str
    ) -> VendResult:
        """Price a sale exactly as :meth:`vend` would — same checks, same receipt lines — in a
        transaction that only reads (no write lock, nothing recorded): the receipt preview
        before payment. Its ``vend_id`` is 0: no vend exists yet."""
        req = steps.SaleRequest(meter_no, steps.exact_amount(amount),
                                f"quote-{uuid.uuid4().hex}", station, operator)
        with self.uow.reading("quote_vend") as s:
            db = OrmSale(s)
            sale = self._priced(db, req, lock=False)
            assert not isinstance(sale, VendResult)  # a fresh request id replays nothing
            return steps.result_of(db, sale, 0)

    def vend_pending_payments(
        self, meter_no: str, *, request_id: str, station: str, operator: str
    ) -> VendResult | None:
        """Vend every pending bank payment of the meter as one purchase (tender ``bank``).

        A station calls this whenever the meter's card is presented. The meter row is locked
        before the payments are read, so two stations cannot both vend the same payment;
        a retry with the same ``request_id`` returns the original vend. None if nothing is due.
        """
        if not request_id:
            raise VendRefused("request_id_missing", "a vend needs a client request id")
        with self.uow.transaction("vend_pending_payments") as s:
            existing = s.scalar(select(m.Vend).where(m.Vend.request_id == request_id))
            if existing is not None:
                if existing.tender != "bank" or existing.meter.meter_no != meter_no:
                    raise VendRefused("request_id_conflict",
                                      f"request id {request_id!r} was used for another vend")
                return vend_result(existing)
            meter = s.scalar(select(m.Meter).where(m.Meter.meter_no == meter_no).with_for_update())
            if meter is None:
                raise VendRefused("unknown_meter", f"meter {meter_no} is not registered")
            payments = s.scalars(select(m.BankPayment).where(
                m.BankPayment.meter_id == meter.id, m.BankPayment.status == "pending",
            ).order_by(m.BankPayment.id)).all()
            if not payments:
                return None
            amount = sum((p.amount for p in payments), Decimal("0.00"))
            result = self.sell(OrmSale(s), steps.SaleRequest(
                meter_no, amount, request_id, station, operator, tender="bank"))
            for p in payments:
                p.status, p.vend_id = "vended", result.vend_id
            self.uow.audit(s, operator, "bank.vend", "vend", result.vend_id, None,
                           {"payments": [p.entry_ref for p in payments], "amount": amount})
            return result

    def mark_written(self, vend_id: int) -> None:
        """Record that the card writer reported success. Repeating it is harmless."""
        with self.uow.transaction("mark_written") as s:
            vend = lookup.vend(s, vend_id)
            if vend.status == VendStatus.REVERSED.value:
                raise BillingError(f"vend {vend_id} was reversed; it cannot be marked written")
            if vend.status == VendStatus.CREATED.value:
                before = {"status": vend.status}
                vend.status = VendStatus.WRITTEN.value
                vend.written_at = self.uow.now()
                for change in s.scalars(select(m.ParameterChange).where(
                    m.ParameterChange.meter_id == vend.meter_id,
                    m.ParameterChange.status == "queued",
                )):
                    change.status = "written"
                    change.vend_id = vend.id
                    change.written_at = vend.written_at
                self.uow.audit(s, "station", "vend.written", "vend", vend.id, before,
                               {"status": vend.status})


def replay(vend: m.Vend, req: steps.SaleRequest) -> VendResult:
    """The earlier vend a retry names, if the retry asks for the same sale."""
    same = (
        vend.meter.meter_no == req.meter_no
        and vend.amount == req.amount
        and vend.station.code == req.station
        and vend.operator.name == req.operator
    )
    if not same:
        raise VendRefused(
            "request_id_conflict",
            f"request id {vend.request_id!r} was already used for a different vend "
            f"(meter {vend.meter.meter_no}, amount {vend.amount})",
        )
    return vend_result(vend, parameters_of(vend))
