"""Bank statements into the ledger: match each payment to a customer's meter, exactly once.

Idempotency has two layers: a file already imported (same SHA-256) is a no-op, and every
payment is keyed by the bank's entry reference (unique in the database), so an overlapping
or re-issued statement only adds what is new. The import is one transaction: it all lands,
or — on any error — nothing does.

Matching, by the tokens of the payment's reference: a 12-digit meter number names the meter;
otherwise a customer account number names the customer, whose only meter gets the credit;
otherwise the EndToEndId of a direct debit this centre requested names the mandate's customer.
Anything else is kept as ``unmatched`` with the reason and the file:line it came from.
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
from rig.billing.bank.statement import Entry, Statement, read_statement
from rig.billing.service import BillingCentre, Conflict, NotFound
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
    status: str  # pending | vended | unmatched
    reason: str | None
    account_no: str | None
    meter_no: str | None
    vend_id: int | None
    source: str


@dataclass(frozen=True)
class ImportResult:
    file_name: str
    format: str
    already_imported: bool  # the very same file was imported before: nothing changed
    matched: tuple[PaymentInfo, ...]
    unmatched: tuple[PaymentInfo, ...]
    duplicates: tuple[str, ...]  # entry references already in the ledger
    not_booked: tuple[str, ...] = ()  # pending at the bank: recorded once a statement books them

    @property
    def changed(self) -> bool:
        return bool(self.matched or self.unmatched)


def import_statement(
    centre: BillingCentre, path: Path | str, *, currency: str = "EUR", actor: str = "system",
) -> ImportResult:
    """Parse ``path`` (camt.053 or CSV) and record its payments; see the module docstring."""
    statement = read_statement(path)
    try:
        return _record(centre, statement, currency.upper(), actor)
    except IntegrityError:
        # Another process imported an overlapping statement at the same moment: with its
        # rows now committed, a second pass skips them.
        return _record(centre, statement, currency.upper(), actor)


def _record(centre: BillingCentre, st: Statement, currency: str, actor: str) -> ImportResult:
    with centre._tx() as s:
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
        for e in new:
            payment = _payment(s, e, row.id, currency)
            s.add(payment)
            s.flush()
            info = _info(s, payment)
            (matched if payment.status == "pending" else unmatched).append(info)
        centre._audit(s, actor, "bank.import", "bank_statement", row.id, None, {
            "file": st.file_name, "format": st.format, "statement_id": st.statement_id,
            "sha256": st.sha256, "pending": [p.entry_ref for p in matched],
            "unmatched": [p.entry_ref for p in unmatched], "skipped": list(dups),
            "not_booked": list(waiting),
            "amounts": {p.entry_ref: p.amount for p in (*matched, *unmatched)}})
        return ImportResult(st.file_name, st.format, False, tuple(matched), tuple(unmatched),
                            dups, waiting)


def _payment(s: Session, e: Entry, statement_id: int, currency: str) -> m.BankPayment:
    customer_id, meter_id, reason = _match(s, e, currency)
    return m.BankPayment(
        entry_ref=e.entry_ref, statement_id=statement_id, source=e.source[-600:],
        amount=e.amount, currency=e.currency,
        booked_on=datetime(e.booked_on.year, e.booked_on.month, e.booked_on.day, tzinfo=UTC),
        reference=e.reference[:500], debtor=e.debtor[:200],
        status="unmatched" if reason else "pending",
        reason=f"{e.source}: {reason}" if reason else None,
        customer_id=customer_id, meter_id=meter_id,
    )


def _match(s: Session, e: Entry, currency: str) -> tuple[int | None, int | None, str | None]:
    """(customer id, meter id, None) for a payment to credit, or (…, reason) for one to hold."""
    if not e.credit:
        return None, None, "a debit (DBIT), not a customer payment"
    if e.currency != currency:
        return None, None, f"currency {e.currency}, but the centre bills in {currency}"
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
    if not customers and e.end_to_end_id:
        debit = s.scalar(select(m.DirectDebit).where(m.DirectDebit.end_to_end_id ==
                                                     e.end_to_end_id))
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
    return PaymentInfo(p.entry_ref, p.amount, p.currency, p.booked_on, p.reference, p.debtor,
                       p.status, p.reason, account, meter_no, p.vend_id, p.source)


def payments(centre: BillingCentre, status: str | None = None) -> list[PaymentInfo]:
    """Bank payments in import order, optionally only ``pending``/``vended``/``unmatched``."""
    with centre._tx() as s:
        q = select(m.BankPayment).order_by(m.BankPayment.id)
        if status is not None:
            q = q.where(m.BankPayment.status == status)
        return [_info(s, p) for p in s.scalars(q)]


def assign_payment(centre: BillingCentre, entry_ref: str, meter_no: str, *, operator: str,
                   note: str) -> PaymentInfo:
    """A supervisor resolves an unmatched payment: it becomes pending credit for ``meter_no``.

    Only credits in the centre's terms can be assigned (not debits or foreign currency: those
    are for the accountant, not the meter); the original reason stays in the audit log.
    """
    if not note.strip():
        raise BillingError("assigning a payment needs a note saying why")
    with centre._tx() as s:
        centre._require_role(s, operator, "assign a bank payment")
        p = s.scalar(select(m.BankPayment).where(m.BankPayment.entry_ref == entry_ref))
        if p is None:
            raise NotFound(f"no bank payment {entry_ref!r}")
        if p.status != "unmatched":
            raise Conflict(f"payment {entry_ref} is {p.status}, not unmatched")
        if p.reason and ("debit" in p.reason or "currency" in p.reason):
            raise Conflict(f"payment {entry_ref} cannot become credit: {p.reason}")
        meter = s.scalar(select(m.Meter).where(m.Meter.meter_no == meter_no))
        if meter is None:
            raise NotFound(f"meter {meter_no} is not registered")
        before = _info(s, p)
        p.status, p.meter_id, p.customer_id = "pending", meter.id, meter.customer_id
        s.flush()
        after = _info(s, p)
        centre._audit(s, operator, "bank.assign", "bank_payment", p.id, before,
                      {**asdict(after), "note": note})
        return after
