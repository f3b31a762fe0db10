"""Bank statements into the ledger: match each payment to a customer's meter, exactly once.

Idempotency has two layers: a file already imported (same SHA-256) is a no-op, and every
payment is keyed by the bank's entry reference (unique in the database), so an overlapping
or re-issued statement only adds what is new. The import is one transaction: it all lands,
or — on any error — nothing does.

Matching, by the tokens of the payment's reference: a 12-digit meter number names the meter;
otherwise a customer account number names the customer, whose only meter gets the credit;
otherwise the EndToEndId of a direct debit this centre requested names the mandate's customer.
Anything else is kept as ``unmatched`` with the reason and the file:line it came from.

Returns and reversals (a DBIT entry with ``RvslInd`` or a return reason in ``RtrInf``) are not
money for anybody: as a bank's back office does, each cancels the credit it undoes — found by
EndToEndId, else by mandate and amount, else by remittance reference and amount — which is no
longer vendable; if it was already vended, its amount becomes a debt on the meter, recovered
from later purchases (``rig.billing.centre.facade.BillingCentre.add_debt``'s mechanism). Every
return is listed with its reason code by the exceptions report. A statement in a currency
other than the centre's (``rig.billing.currency``) is refused whole, naming the line.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rig.billing import models as m
from rig.billing.bank.read import read_statement
from rig.billing.bank.statement import Entry, Statement, StatementError
from rig.billing.centre.errors import Conflict, NotFound
from rig.billing.centre.facade import BillingCentre
from rig.billing.currency import require_currency
from rig.errors import BillingError

TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9/_.-]*[A-Za-z0-9]|[A-Za-z0-9]")


@dataclass(frozen=True)
class PaymentInfo:
    entry_ref: str
    amount: Decimal
    currency: str
    booked_on: datetime
    reference: str
    debtor: str
    status: str  # pending | vended | unmatched | returned | applied
    reason: str | None
    account_no: str | None
    meter_no: str | None
    vend_id: int | None
    source: str
    kind: str = "credit"  # credit | debit | credit_return | debit_return
    return_code: str | None = None
    returns: str | None = None  # entry reference of the payment this return cancelled
    debt_id: int | None = None  # the debt a returned, already vended payment became


@dataclass(frozen=True)
class ImportResult:
    file_name: str
    format: str
    already_imported: bool  # the very same file was imported before: nothing changed
    matched: tuple[PaymentInfo, ...]
    unmatched: tuple[PaymentInfo, ...]
    duplicates: tuple[str, ...]  # entry references already in the ledger
    not_booked: tuple[str, ...] = ()  # pending at the bank: recorded once a statement books them
    returns: tuple[PaymentInfo, ...] = ()  # returns/reversals of credits, applied or unmatched

    @property
    def changed(self) -> bool:
        return bool(self.matched or self.unmatched or self.returns)


RETURN_RECOVERY_PERCENT = Decimal("50")  # of each later purchase, until a returned sum is repaid
NOT_PROVIDED = "NOTPROVIDED"  # the EPC's placeholder for an EndToEndId the payer did not give


def import_statement(
    centre: BillingCentre, path: Path | str, *, actor: str = "system",
    recovery_percent: Decimal = RETURN_RECOVERY_PERCENT,
) -> ImportResult:
    """Parse ``path`` (camt.053 or CSV) and record its payments; see the module docstring.

    ``recovery_percent``: the share of each later purchase that repays a debt made by the
    return of an already vended payment.
    """
    if not (isinstance(recovery_percent, Decimal) and 0 < recovery_percent <= 100):
        raise BillingError(f"recovery percent {recovery_percent!r} must be a Decimal in (0, 100]")
    currency = require_currency(centre, "a bank import")
    statement = read_statement(path)
    check_currency(statement, currency)
    try:
        return _record(centre, statement, currency, actor, recovery_percent)
    except IntegrityError:
        # Another process imported an overlapping statement at the same moment: with its
        # rows now committed, a second pass skips them.
        return _record(centre, statement, currency, actor, recovery_percent)


def check_currency(st: Statement, currency: str) -> None:
    """Refuse the whole statement if its account or any entry is not in ``currency``."""
    for ccy, where in st.account_currencies:
        if ccy != currency:
            raise StatementError(f"{where}: <Acct/Ccy> the statement's account is in {ccy}, "
                                 f"but this centre bills in {currency}; nothing imported")
    for e in st.entries:
        if e.currency != currency:
            raise StatementError(f"{e.source}: entry {e.entry_ref} is in {e.currency}, but "
                                 f"this centre bills in {currency}; nothing imported")


def _record(centre: BillingCentre, st: Statement, currency: str, actor: str,
            recovery_percent: Decimal) -> ImportResult:
    with centre.transaction("import a bank statement") as s:
        if s.scalar(select(m.BankStatement.id).where(m.BankStatement.sha256 == st.sha256)):
            refs = tuple(e.entry_ref for e in st.entries)
            return ImportResult(st.file_name, st.format, True, (), (), refs)
        known = set(s.scalars(select(m.BankPayment.entry_ref).where(
            m.BankPayment.entry_ref.in_([e.entry_ref for e in st.entries]))))
        # An entry not yet booked is left out: recording it would make its reference "known"
        # and the booked entry on a later statement would then be skipped as a duplicate.
        waiting = tuple(e.entry_ref for e in st.entries if not e.booked)
        new = [e for e in st.entries if e.entry_ref not in known and e.booked]
        dups = tuple(e.entry_ref for e in st.entries if e.entry_ref in known)
        if not new:
            return ImportResult(st.file_name, st.format, False, (), (), dups, waiting)
        row = m.BankStatement(sha256=st.sha256, file_name=st.file_name[-500:], format=st.format,
                              statement_id=st.statement_id[:100], imported_at=centre.now())
        s.add(row)
        s.flush()
        matched: list[PaymentInfo] = []
        unmatched: list[PaymentInfo] = []
        returns: list[PaymentInfo] = []
        # Credits first, so a return finds the collection it returns on the same statement.
        for e in sorted(new, key=lambda x: _is_credit_return(x)):
            if _is_credit_return(e):
                ret = _apply_return(centre, s, e, row.id, actor, recovery_percent)
                returns.append(_info(s, ret))
                continue
            payment = _payment(s, e, row.id)
            s.add(payment)
            s.flush()
            info = _info(s, payment)
            (matched if payment.status == "pending" else unmatched).append(info)
        centre.uow.audit(s, actor, "bank.import", "bank_statement", row.id, None, {
            "file": st.file_name, "format": st.format, "statement_id": st.statement_id,
            "sha256": st.sha256, "pending": [p.entry_ref for p in matched],
            "unmatched": [p.entry_ref for p in unmatched], "skipped": list(dups),
            "not_booked": list(waiting), "returns": {p.entry_ref: p.status for p in returns},
            "amounts": {p.entry_ref: p.amount for p in (*matched, *unmatched, *returns)}})
        return ImportResult(st.file_name, st.format, False, tuple(matched), tuple(unmatched),
                            dups, waiting, tuple(returns))


def _is_credit_return(e: Entry) -> bool:
    """A debit that undoes a customer's credit: a returned collection, a reversed transfer."""
    return not e.credit and e.undoes_earlier


def _booked(e: Entry) -> datetime:
    return datetime(e.booked_on.year, e.booked_on.month, e.booked_on.day, tzinfo=UTC)


def _row(e: Entry, statement_id: int, kind: str) -> m.BankPayment:
    return m.BankPayment(
        entry_ref=e.entry_ref, statement_id=statement_id, source=e.source[-600:],
        amount=e.amount, currency=e.currency, booked_on=_booked(e),
        reference=e.reference[:500], debtor=e.debtor[:200], kind=kind,
        end_to_end_id=_e2e(e) or None, mandate_ref=e.mandate_ref[:35] or None,
        return_code=e.return_code[:35] or None)


def _e2e(e: Entry) -> str:
    return "" if e.end_to_end_id.upper() == NOT_PROVIDED else e.end_to_end_id[:35]


def _payment(s: Session, e: Entry, statement_id: int) -> m.BankPayment:
    """A credit (customer money, matched or not), a plain debit, or a returned debit."""
    if e.credit and e.undoes_earlier:
        row = _row(e, statement_id, "debit_return")
        what = f"return {e.return_code}" if e.return_code else "reversal (RvslInd)"
        row.status, row.reason = "unmatched", (
            f"{e.source}: a {what} of an earlier debit: money back to the centre's account, "
            "not a customer payment")
        return row
    if not e.credit:
        row = _row(e, statement_id, "debit")
        row.status, row.reason = "unmatched", f"{e.source}: a debit (DBIT), not a customer payment"
        return row
    row = _row(e, statement_id, "credit")
    customer_id, meter_id, reason = _match(s, e)
    if e2e := _e2e(e):
        debit = s.scalar(select(m.DirectDebit).where(m.DirectDebit.end_to_end_id == e2e))
        if debit is not None and row.mandate_ref is None:
            row.mandate_ref = s.get(m.DebitMandate, debit.mandate_id).mandate_ref  # type: ignore[union-attr]
    row.status = "unmatched" if reason else "pending"
    row.reason = f"{e.source}: {reason}" if reason else None
    row.customer_id, row.meter_id = customer_id, meter_id
    return row


def _apply_return(centre: BillingCentre, s: Session, e: Entry, statement_id: int, actor: str,
                  recovery_percent: Decimal) -> m.BankPayment:
    """Record a return/reversal of a credit and cancel the credit it names, in one go."""
    ret = _row(e, statement_id, "credit_return")
    what = f"return {e.return_code}" if e.return_code else "reversal (RvslInd)"
    if e.return_info:
        what += f" ({e.return_info[:200]})"
    original, why_not = _returned_payment(s, e)
    if original is None:
        ret.status, ret.reason = "unmatched", f"{e.source}: {what}: {why_not}"
        s.add(ret)
        s.flush()
        return ret
    before = _info(s, original)
    effect = {"pending": "was pending: no longer vendable",
              "unmatched": "was unmatched: nothing to assign any more"}.get(original.status, "")
    if original.status == "vended":
        meter = s.get(m.Meter, original.meter_id)
        assert meter is not None
        original.debt_id = _owe(centre, s, meter, original, what, actor, recovery_percent)
        effect = (f"was vended in vend {original.vend_id}: now owed as debt "
                  f"{original.debt_id} ({original.amount} on meter {meter.meter_no})")
    original.status = "returned"
    ret.status, ret.returns_id = "applied", original.id
    ret.customer_id, ret.meter_id = original.customer_id, original.meter_id
    ret.reason = f"{e.source}: {what} of {original.entry_ref}, which {effect}"
    s.add(ret)
    s.flush()
    centre.uow.audit(s, actor, "bank.return", "bank_payment", original.id, asdict(before),
                  {**asdict(_info(s, original)), "return": e.entry_ref,
                   "return_code": e.return_code, "effect": effect})
    return ret


def _owe(centre: BillingCentre, s: Session, meter: m.Meter, payment: m.BankPayment, what: str,
         actor: str, recovery_percent: Decimal) -> int:
    """The debt a returned, vended payment becomes: added to the meter's open bank-return
    debt if it has one (two debts would each take their share of every purchase), else new."""
    debt = s.scalar(select(m.Debt).join(m.BankPayment, m.BankPayment.debt_id == m.Debt.id)
                    .where(m.Debt.meter_id == meter.id, m.Debt.outstanding > 0)
                    .order_by(m.Debt.id).limit(1))
    if debt is None:
        return centre.meter_account.record_debt(
            s, meter, payment.amount, f"bank {what} of payment {payment.entry_ref}"[:200],
            recovery_percent=recovery_percent, recovery_fixed=Decimal("0.00"),
            actor=actor).debt_id
    before = {"principal": debt.principal, "outstanding": debt.outstanding}
    debt.principal += payment.amount
    debt.outstanding += payment.amount
    centre.uow.audit(s, actor, "debt.increase", "debt", debt.id, before, {
        "principal": debt.principal, "outstanding": debt.outstanding,
        "why": f"bank {what} of payment {payment.entry_ref}"})
    return debt.id


def _returned_payment(s: Session, e: Entry) -> tuple[m.BankPayment | None, str]:
    """The credit a return cancels: same EndToEndId; else the latest of the mandate with the
    same amount; else the only one with the same remittance reference and amount."""
    open_credits = select(m.BankPayment).where(
        m.BankPayment.kind == "credit", m.BankPayment.status != "returned")
    if e2e := _e2e(e):
        found = s.scalars(open_credits.where(m.BankPayment.end_to_end_id == e2e)
                          .order_by(m.BankPayment.id)).all()
        same = [p for p in found if p.amount == e.amount]
        if same:
            return same[0], ""
        if found:
            return None, (f"EndToEndId {e2e} names payment {found[0].entry_ref} of "
                          f"{found[0].amount}, not {e.amount}")
        done = s.scalar(select(m.BankPayment.entry_ref).where(
            m.BankPayment.kind == "credit", m.BankPayment.status == "returned",
            m.BankPayment.end_to_end_id == e2e).limit(1))
        if done is not None:
            return None, f"payment {done} with EndToEndId {e2e} was already returned"
        return None, f"no payment in the ledger has EndToEndId {e2e}"
    if e.mandate_ref:
        found = s.scalars(open_credits.where(
            m.BankPayment.mandate_ref == e.mandate_ref, m.BankPayment.amount == e.amount)
            .order_by(m.BankPayment.booked_on.desc(), m.BankPayment.id.desc())).all()
        if found:
            return found[0], ""
        return None, f"no payment of {e.amount} under mandate {e.mandate_ref} in the ledger"
    if e.reference:
        found = s.scalars(open_credits.where(
            m.BankPayment.reference == e.reference[:500], m.BankPayment.amount == e.amount)).all()
        if len(found) == 1:
            return found[0], ""
        if found:
            return None, (f"{len(found)} payments of {e.amount} have reference "
                          f"{e.reference!r}: which one is returned needs a person")
    return None, (f"no EndToEndId, mandate or payment with reference {e.reference!r} and "
                  f"amount {e.amount} to return")


def _match(s: Session, e: Entry) -> tuple[int | None, int | None, str | None]:
    """(customer id, meter id, None) for a payment to credit, or (…, reason) for one to hold."""
    tokens = {t.upper() for t in TOKEN.findall(e.reference)}
    meters = s.scalars(select(m.Meter).where(m.Meter.meter_no.in_(
        [t for t in tokens if re.fullmatch(r"\d{12}", t)]))).all()
    customers = list(s.scalars(select(m.Customer).where(
        func.upper(m.Customer.account_no).in_(tokens))))
    if len(meters) > 1:
        return None, None, (f"reference {e.reference!r} names {len(meters)} meters "
                            f"({', '.join(x.meter_no for x in meters)})")
    if meters:
        meter = meters[0]
        if customers and all(c.id != meter.customer_id for c in customers):
            return None, None, (f"reference {e.reference!r} names meter {meter.meter_no} of "
                                f"account {meter.customer.account_no} and another account")
        return meter.customer_id, meter.id, None
    if len(customers) > 1:
        return None, None, f"reference {e.reference!r} names {len(customers)} accounts"
    if not customers and _e2e(e):
        debit = s.scalar(select(m.DirectDebit).where(m.DirectDebit.end_to_end_id == _e2e(e)))
        if debit is not None:
            customers = [s.get(m.DebitMandate, debit.mandate_id).customer]  # type: ignore[union-attr]
    if not customers:
        return None, None, (f"reference {e.reference!r} names no customer account or meter "
                            "number")
    customer = customers[0]
    own = s.scalars(select(m.Meter).where(m.Meter.customer_id == customer.id)).all()
    if len(own) != 1:
        return customer.id, None, (
            f"account {customer.account_no} has {len(own)} meters; the reference must name "
            "the meter number")
    return customer.id, own[0].id, None


def _info(s: Session, p: m.BankPayment) -> PaymentInfo:
    account = s.get(m.Customer, p.customer_id).account_no if p.customer_id else None  # type: ignore[union-attr]
    meter_no = s.get(m.Meter, p.meter_id).meter_no if p.meter_id else None  # type: ignore[union-attr]
    returns = s.get(m.BankPayment, p.returns_id).entry_ref if p.returns_id else None  # type: ignore[union-attr]
    return PaymentInfo(p.entry_ref, p.amount, p.currency, p.booked_on, p.reference, p.debtor,
                       p.status, p.reason, account, meter_no, p.vend_id, p.source, p.kind,
                       p.return_code, returns, p.debt_id)


def payments(centre: BillingCentre, status: str | None = None) -> list[PaymentInfo]:
    """Bank entries in import order, optionally of one status (pending, vended, unmatched,
    returned, applied)."""
    with centre.uow.reading("list bank payments") as s:
        q = select(m.BankPayment).order_by(m.BankPayment.id)
        if status is not None:
            q = q.where(m.BankPayment.status == status)
        return [_info(s, p) for p in s.scalars(q)]


def assign_payment(centre: BillingCentre, entry_ref: str, meter_no: str, *, operator: str,
                   note: str) -> PaymentInfo:
    """A supervisor resolves an unmatched payment: it becomes pending credit for ``meter_no``.

    Only customer credits can be assigned (not debits, returns or reversals: those are for the
    accountant, not the meter); the original reason stays in the audit log.
    """
    if not note.strip():
        raise BillingError("assigning a payment needs a note saying why")
    with centre.transaction("assign a bank payment") as s:
        centre.access.require_role(s, operator, "assign a bank payment")
        p = s.scalar(select(m.BankPayment).where(m.BankPayment.entry_ref == entry_ref))
        if p is None:
            raise NotFound(f"no bank payment {entry_ref!r}")
        if p.status != "unmatched":
            raise Conflict(f"payment {entry_ref} is {p.status}, not unmatched")
        if p.kind != "credit":
            raise Conflict(f"payment {entry_ref} cannot become credit: {p.reason}")
        meter = s.scalar(select(m.Meter).where(m.Meter.meter_no == meter_no))
        if meter is None:
            raise NotFound(f"meter {meter_no} is not registered")
        before = _info(s, p)
        p.status, p.meter_id, p.customer_id = "pending", meter.id, meter.customer_id
        s.flush()
        after = _info(s, p)
        centre.uow.audit(s, operator, "bank.assign", "bank_payment", p.id, before,
                      {**asdict(after), "note": note})
        return after
