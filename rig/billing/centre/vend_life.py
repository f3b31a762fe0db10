"""A vend's life after the sale: free issue, reversal, receipt reprint and card replacement.

Each keeps the meter's sequence rule: a sequence number once issued is never reissued, so a
card that carries it can apply its purchase once only.
"""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rig.billing import agents, inputs
from rig.billing import models as m
from rig.billing.centre import hoarding_check, lookup
from rig.billing.centre.access import Access
from rig.billing.centre.errors import Conflict, NotFound, VendRefused
from rig.billing.centre.rows import card_info, vend_result
from rig.billing.centre.uow import UnitOfWork
from rig.billing.display import Display, display_locale, station_zone
from rig.billing.types import CardInfo, CardStatus, MeterStatus, VendKind, VendResult, VendStatus
from rig.errors import BillingError


class VendLife:
    """Free issue, reversal, reprint and card replacement."""

    def __init__(self, uow: UnitOfWork, access: Access) -> None:
        self.uow = uow
        self.access = access

    def free_issue(
        self, meter_no: str, credit: int, *, request_id: str, station: str, operator: str,
        reason: str,
    ) -> VendResult:
        """Give ``credit`` units without payment (emergency, compensation); supervisor only.

        It is a vend of amount 0 with the meter's next sequence, so it travels on the card and
        is confirmed by a readback like any other; it is excluded from sales and block usage.
        """
        if isinstance(credit, bool) or not isinstance(credit, int) \
                or not 0 < credit <= inputs.CREDIT_MAX:
            raise VendRefused("credit_invalid", f"free issue credit {credit!r} must be a whole "
                                                f"number in 1..{inputs.CREDIT_MAX}")
        if not reason.strip():
            raise VendRefused("reason_missing", "a free issue needs a reason")
        with self.uow.transaction("free_issue") as s:
            self.access.require_role(s, operator, "give a free issue")
            meter = s.scalar(select(m.Meter).where(m.Meter.meter_no == meter_no).with_for_update())
            # Looked up after the meter lock, so a concurrent retry that committed meanwhile
            # is replayed rather than refused as an unapplied purchase.
            existing = lookup.committed_meanwhile(s, request_id)
            if existing is not None:
                if existing.kind != VendKind.FREE.value or existing.credit != credit:
                    raise VendRefused("request_id_conflict",
                                      f"request id {request_id!r} was used for another vend")
                return vend_result(existing)
            if meter is None:
                raise VendRefused("unknown_meter", f"meter {meter_no} is not registered")
            card, st, op_row = self._parties(s, meter, station, operator)
            hoarding_check.refuse_for_meter(s, meter, credit)
            tariff = lookup.tariff_in_effect(s, meter.tariff.code, self.uow.now()) or meter.tariff
            meter.last_sequence += 1
            vend = m.Vend(
                request_id=request_id, meter=meter, card=card, station=st, operator=op_row,
                tariff=tariff, amount=Decimal("0.00"), credit=credit,
                credit_unit=meter.credit_unit, sequence=meter.last_sequence,
                tariff_version=tariff.version, price_per_kwh=tariff.price_per_kwh,
                key_revision=meter.key_revision,
                receipt=[{"label": "free", "amount": "0.00",
                          "detail": f"free issue of {credit} {meter.credit_unit}: {reason}"}],
                status=VendStatus.CREATED.value, created_at=self.uow.now(),
                kind=VendKind.FREE.value, reason=reason,
            )
            s.add(vend)
            s.flush()
            result = vend_result(vend, lookup.pending_parameters(s, meter.id))
            self.uow.audit(s, operator, "vend.free_issue", "vend", vend.id, None, result)
            return result

    def _parties(
        self, s: Session, meter: m.Meter, station: str, operator: str
    ) -> tuple[m.Card, m.Station, m.Operator]:
        """The card, station and operator of a free issue, or its refusal."""
        if meter.status != MeterStatus.ACTIVE.value:
            raise VendRefused("meter_blocked", f"meter {meter.meter_no} is blocked")
        card = lookup.active_card(s, meter)
        if card is None:
            raise VendRefused("no_active_card", f"meter {meter.meter_no} has no active card")
        pending = s.scalar(select(m.Vend).where(lookup.unapplied_vends(meter.id))
                           .order_by(m.Vend.sequence).limit(1))
        if pending is not None:
            raise VendRefused("unapplied_purchase",
                              f"card {card.card_serial} still carries purchase #{pending.sequence}")
        st = s.scalar(select(m.Station).where(m.Station.code == station))
        if st is None:
            raise VendRefused("unknown_station", f"station {station!r} is not registered")
        return card, st, self.access.operator(s, operator)

    def reverse_vend(self, vend_id: int, *, operator: str, reason: str) -> VendResult:
        """Cancel a vend no readback has confirmed (supervisor or administrator).

        The sequence number stays used (never reissued: a card that already carries it must
        not apply a different purchase). Debt recovered by it is owed again, the meter's change
        goes back to what it was before, bank payments it vended are pending again and
        parameters written with it are queued again. If the card did reach the meter after all,
        the next readback shows the sequence applied and reconciliation flags it.
        """
        if not reason.strip():
            raise BillingError("a reversal needs a reason")
        with self.uow.transaction("reverse_vend") as s:
            supervisor = self.access.require_role(s, operator, "reverse a vend")
            vend = lookup.vend(s, vend_id)
            if vend.status not in lookup.UNAPPLIED:
                raise Conflict(f"vend {vend_id} is {vend.status}; only an unconfirmed vend "
                               "can be reversed")
            if vend.card_id is None:
                raise Conflict(f"vend {vend_id} was sold as an STS token, which its meter takes "
                               "whenever it is typed: it cannot be taken back (a supervisor's "
                               "clear-credit token empties the meter)")
            before = vend_result(vend)
            meter = s.scalar(select(m.Meter).where(m.Meter.id == vend.meter_id).with_for_update())
            assert meter is not None
            self._undo_effects(s, vend, meter, operator)
            vend.status = VendStatus.REVERSED.value
            vend.reversed_at = self.uow.now()
            vend.reversed_by_id = supervisor.id
            vend.reason = reason
            after = vend_result(vend)
            self.uow.audit(s, operator, "vend.reverse", "vend", vend.id, before,
                           {**asdict(after), "reason": reason})
            return after

    def _undo_effects(self, s: Session, vend: m.Vend, meter: m.Meter, operator: str) -> None:
        """What the vend changed besides itself, put back: debts, change, bank payments,
        parameters and the agent's float."""
        for rec in s.scalars(select(m.DebtRecovery).where(m.DebtRecovery.vend_id == vend.id)):
            debt = s.get(m.Debt, rec.debt_id)
            assert debt is not None
            debt.outstanding += rec.amount
            self.uow.audit(s, operator, "debt.restore", "debt", debt.id, None,
                           {"vend_id": vend.id, "amount": rec.amount})
        if vend.kind == VendKind.SALE.value:
            meter.change_balance = vend.change_in
        for payment in s.scalars(select(m.BankPayment).where(m.BankPayment.vend_id == vend.id)):
            if payment.status == "returned":  # the bank took it back: it is owed as debt
                raise Conflict(
                    f"vend {vend.id} was paid by bank payment {payment.entry_ref}, which the "
                    f"bank has since returned and is owed as debt {payment.debt_id}; the "
                    "vend cannot be reversed (its payment would become credit again)")
            payment.status, payment.vend_id = "pending", None  # paid money is owed as credit
        for change in s.scalars(select(m.ParameterChange).where(
                m.ParameterChange.vend_id == vend.id)):  # they ride on the next card again
            change.status, change.vend_id, change.written_at = "queued", None, None
        refunded = agents.refund(s, vend, operator, self.uow.now())
        if refunded is not None:
            self.uow.audit(s, operator, "agent.refund", "agent", refunded.agent_id, None,
                           {"entry_id": refunded.id, "vend_id": refunded.vend_id,
                            "amount": refunded.amount})

    def reprint(self, vend_id: int, *, operator: str, display: Display | None = None) -> str:
        """The vend's receipt again, marked as the n-th reprint (counted and audited), in the
        centre's currency and ``display``'s zone (default: this station's, see
        :mod:`rig.billing.display`) — the same rows as the first print."""
        from rig.billing.receipts import receipt_text

        with self.uow.transaction("reprint") as s:
            self.access.operator(s, operator)
            vend = lookup.vend(s, vend_id)
            vend.reprint_count += 1
            self.uow.audit(s, operator, "vend.reprint", "vend", vend.id, None,
                           {"reprint": vend.reprint_count})
            if display is None:
                currency = s.scalar(select(m.CentreSetting.value)
                                    .where(m.CentreSetting.name == "currency"))
                display = Display(currency, station_zone(), display_locale())
            return receipt_text(vend_result(vend), display)

    def replace_card(
        self, meter_no: str, new_card_serial: str, *, operator: str, reason: str = "lost",
    ) -> tuple[CardInfo, tuple[VendResult, ...]]:
        """Issue a new card for a meter whose card is lost or damaged.

        The old card becomes ``lost`` (reason "lost") or ``replaced``; unconfirmed vends move to
        the new card with their **same sequence numbers** and back to ``created``, so the
        station writes them again. Should the old card turn up, the meter ignores its copy
        (the sequence is no longer new): the credit can be applied once only.
        """
        with self.uow.transaction("replace_card") as s:
            self.access.operator(s, operator)
            meter = s.scalar(select(m.Meter).where(m.Meter.meter_no == meter_no).with_for_update())
            if meter is None:
                raise NotFound(f"meter {meter_no} is not registered")
            old = lookup.active_card(s, meter)
            if old is not None:
                before = card_info(old)
                old.status = (CardStatus.LOST if reason == "lost" else CardStatus.REPLACED).value
                self.uow.audit(s, operator, "card.retire", "card", old.id, before,
                               {**asdict(card_info(old)), "reason": reason})
            new = m.Card(card_serial=new_card_serial, meter=meter, card_type="customer",
                         status=CardStatus.ACTIVE.value, issued_at=self.uow.now())
            s.add(new)
            try:
                s.flush()
            except IntegrityError:
                raise Conflict(f"card {new_card_serial} is already issued") from None
            moved = []
            for v in s.scalars(select(m.Vend).where(
                lookup.unapplied_vends(meter.id),
                m.Vend.card_id.is_not(None),  # a token sale stays a token
            ).order_by(m.Vend.sequence)):
                assert v.card is not None
                before_v = {"card": v.card.card_serial, "status": v.status}
                v.card = new
                v.status = VendStatus.CREATED.value
                v.written_at = None
                self.uow.audit(s, operator, "vend.move_card", "vend", v.id, before_v,
                               {"card": new_card_serial, "status": v.status})
                moved.append(v)
            s.flush()
            info = card_info(new)
            self.uow.audit(s, operator, "card.issue", "card", new.id, None, info)
            pending = lookup.pending_parameters(s, meter.id)
            return info, tuple(vend_result(v, pending) for v in moved)
