"""Cashier pages: the shift (open / cash-up), search, sell with a receipt preview, write the
card at the station's reader, print and reprint, read the card back and reconcile.

A sale is recorded in the centre first and written to the card second. If the write fails the
sale stays listed as "to be written" on the home page until it is written or a supervisor
reverses it, so money taken is never lost between the till and the card.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from rig.billing.bank import payments
from rig.billing.centre.errors import Conflict, NotFound, VendRefused
from rig.billing.receipt_pdf import receipt_pdf
from rig.billing.reports import cash_up
from rig.billing.types import VendResult, VendStatus
from rig.errors import BillingError
from rig.station.console import queries
from rig.station.console.forms import FormError, money, required
from rig.station.console.sessions import ConsoleSession
from rig.station.console.web import (
    CASHIER,
    Form,
    back,
    console,
    redirect,
    render,
    require,
)
from rig.station.console.words import refusal
from rig.station.console.writer import WriteProblem

router = APIRouter()
anyone = require(CASHIER, "use the console")
Anyone = Annotated[ConsoleSession, Depends(anyone)]


@router.get("/", response_class=HTMLResponse, name="home")
def home(request: Request, user: Anyone) -> Response:
    c = console(request)
    return render(request, "home.html", session=user,
                  shift=queries.open_session(c.centre, user.operator),
                  to_write=queries.vends(c.centre, statuses=(VendStatus.CREATED.value,)),
                  on_card=queries.vends(c.centre, statuses=(VendStatus.WRITTEN.value,)))


@router.get("/search", response_class=HTMLResponse)
def search(request: Request, user: Anyone, q: str = "") -> Response:
    hits = queries.search(console(request).centre, q) if q.strip() else []
    return render(request, "search.html", session=user, q=q, hits=hits)


@router.get("/meters/{meter_no}", response_class=HTMLResponse)
def meter_page(request: Request, meter_no: str,
               user: Anyone) -> Response:
    c = console(request).centre
    meter = c.meter(meter_no)
    return render(
        request, "meter.html", session=user, meter=meter, hoarding=c.hoarding(meter_no),
        customer=queries.customer_of(c, meter_no), cards=queries.cards(c, meter_no),
        vends=queries.vends(c, meter_no=meter_no, limit=10),
        bank=[p for p in payments(c, "pending") if p.meter_no == meter_no],
        reconciliation=c.latest_reconciliation(meter_no),
        shift=queries.open_session(c, user.operator), amount="", request_id=uuid.uuid4().hex)


def _shift_or_refuse(request: Request, user: ConsoleSession) -> None:
    c = console(request)
    shift = queries.open_session(c.centre, user.operator)
    if shift is None:
        raise FormError("Open your cashier session first (Session page), then sell.")
    if shift.station != c.station:
        raise FormError(f"Your session is open at station {shift.station}, not at this "
                        f"station ({c.station}). Close it there first.")


@router.post("/vend/preview", response_class=HTMLResponse)
def preview(request: Request, user: Anyone,
            form: Form) -> Response:
    c = console(request)
    meter_no = form.get("meter_no", "")
    try:
        _shift_or_refuse(request, user)
        amount = money(form.get("amount", ""))
        quote = c.centre.quote_vend(meter_no, amount, station=c.station, operator=user.operator)
    except VendRefused as e:
        return back(request, user, f"/meters/{meter_no}", refusal(e))
    except (FormError, BillingError) as e:
        return back(request, user, f"/meters/{meter_no}", e)
    return render(request, "preview.html", session=user, quote=quote, amount=str(amount),
                  customer=queries.customer_of(c.centre, meter_no),
                  request_id=uuid.uuid4().hex)


@router.post("/vend/confirm")
def confirm(request: Request, user: Anyone,
            form: Form) -> Response:
    """Record the sale (idempotent by the preview's request id: a double submit sells once)."""
    c = console(request)
    meter_no = form.get("meter_no", "")
    try:
        _shift_or_refuse(request, user)
        amount = money(form.get("amount", ""))
        vend = c.centre.vend(meter_no, amount, request_id=required(form, "request_id", "sale"),
                             station=c.station, operator=user.operator, require_session=True)
    except VendRefused as e:
        return back(request, user, f"/meters/{meter_no}", refusal(e))
    except (FormError, BillingError) as e:
        return back(request, user, f"/meters/{meter_no}", e)
    d = c.display()
    then = ("Give the customer the token for the meter's keypad." if vend.token is not None
            else "Now write the card.")
    user.flash("ok", f"Sale recorded: {d.money(vend.amount)} paid, "
                     f"{d.credit(vend.credit, vend.credit_unit)} to "
                     f"{'type' if vend.token is not None else 'write'}. {then}")
    _print_receipt(request, user, vend)  # the station's receipt printer (issue 29)
    return redirect(request, f"/vends/{vend.vend_id}")


def _print_receipt(request: Request, user: ConsoleSession, vend: VendResult) -> None:
    """Print on the station's printer, if it has one; a failure is said, the sale stands."""
    c = console(request)
    if c.printer is None:
        return
    outcome = c.printer.print_vend(vend, operator=user.operator, display=c.display())
    if outcome.printed:
        user.flash("ok", "Receipt printed.")
    else:
        user.flash("error", f"The receipt did not print: {outcome.message}. The sale is "
                            "recorded — press Reprint when the printer is ready.")


@router.post("/meters/{meter_no}/bank-vend")
def bank_vend(request: Request, meter_no: str, user: Anyone, form: Form) -> Response:
    """Vend the customer's pending bank payments as one purchase (no cash changes hands)."""
    c = console(request)
    try:
        vend = c.centre.vend_pending_payments(
            meter_no, request_id=required(form, "request_id", "sale"), station=c.station,
            operator=user.operator)
    except VendRefused as e:
        return back(request, user, f"/meters/{meter_no}", refusal(e))
    except (FormError, BillingError) as e:
        return back(request, user, f"/meters/{meter_no}", e)
    if vend is None:
        return back(request, user, f"/meters/{meter_no}", "No bank payment is waiting.")
    d = c.display()
    user.flash("ok", f"Bank payments of {d.money(vend.amount)} vended: "
                     f"{d.credit(vend.credit, vend.credit_unit)} to write. Now write the card.")
    _print_receipt(request, user, vend)  # the station's receipt printer (issue 29)
    return redirect(request, f"/vends/{vend.vend_id}")


@router.get("/vends/{vend_id}", response_class=HTMLResponse)
def vend_page(request: Request, vend_id: int, user: Anyone) -> Response:
    c = console(request).centre
    vend = c.vend_by_id(vend_id)
    return render(request, "vend.html", session=user, vend=vend,
                  customer=queries.customer_of(c, vend.meter_no))


@router.post("/vends/{vend_id}/write")
def write_card(request: Request, vend_id: int, user: Anyone,
               form: Form) -> Response:
    c = console(request)
    vend = c.centre.vend_by_id(vend_id)
    if vend.token is not None:
        return back(request, user, f"/vends/{vend_id}",
                    "This sale is an STS token: the customer types it on the meter's keypad; "
                    "there is no card to write.")
    if vend.status is not VendStatus.CREATED:
        return back(request, user, f"/vends/{vend_id}",
                    f"This sale is {vend.status.value}; there is nothing to write.")
    if c.writer is None:
        return back(request, user, f"/vends/{vend_id}",
                    "This console has no card writer. Write the card at a vending station.")
    try:
        c.writer.write_vend(vend)
    except WriteProblem as e:
        return back(request, user, f"/vends/{vend_id}",
                    f"{e} The sale is kept as “to be written”.")
    credit = c.display().credit(vend.credit, vend.credit_unit)
    user.flash("ok", f"Card {vend.card_serial} written: purchase #{vend.sequence}, "
                     f"{credit}. Hand the card to the customer.")
    return redirect(request, f"/vends/{vend_id}")


@router.get("/vends/{vend_id}/receipt.pdf")
def receipt(request: Request, vend_id: int, user: Anyone) -> Response:
    c = console(request)
    vend = c.centre.vend_by_id(vend_id)
    return Response(receipt_pdf(vend, c.display()), media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="receipt-{vend_id}.pdf"'})


@router.post("/vends/{vend_id}/reprint")
def reprint(request: Request, vend_id: int, user: Anyone,
            form: Form) -> Response:
    """Count and audit the reprint, then show the receipt marked REPRINT n (or print it on the
    station's printer, if it has one)."""
    c = console(request)
    c.centre.reprint(vend_id, operator=user.operator, display=c.display())
    if c.printer is not None:  # the station's receipt printer (issue 29)
        _print_receipt(request, user, c.centre.vend_by_id(vend_id))
        return redirect(request, f"/vends/{vend_id}")
    return redirect(request, f"/vends/{vend_id}/receipt.pdf")


@router.post("/meters/{meter_no}/readback")
def readback(request: Request, meter_no: str, user: Anyone,
             form: Form) -> Response:
    """Read the card in the reader and upload what the meter wrote on it."""
    c = console(request)
    c.centre.meter(meter_no)  # an unknown meter is refused before the reader is touched
    if c.writer is None:
        return back(request, user, f"/meters/{meter_no}", "This console has no card reader.")
    try:
        result = c.writer.upload_readback()
    except WriteProblem as e:
        return back(request, user, f"/meters/{meter_no}", e)
    except NotFound as e:
        return back(request, user, f"/meters/{meter_no}", f"The card in the reader is for an "
                    f"unknown meter: {e}")
    if result.meter_no != meter_no:
        user.flash("error", f"The card in the reader belongs to meter {result.meter_no}; its "
                            "readback was stored for that meter.")
        return redirect(request, f"/meters/{result.meter_no}/reconciliation")
    verified = result.evidence.get("mac", {}).get("verified_by_centre", False)
    user.flash("ok" if result.verdict.value == "balanced" else "error",
               f"Readback uploaded: {result.verdict.value}."
               + ("" if verified else " Its MAC did not verify: it confirms no sale."))
    return redirect(request, f"/meters/{meter_no}/reconciliation")


@router.get("/meters/{meter_no}/reconciliation", response_class=HTMLResponse)
def reconciliation(request: Request, meter_no: str,
                   user: Anyone) -> Response:
    c = console(request).centre
    return render(request, "reconciliation.html", session=user, meter_no=meter_no,
                  rec=c.latest_reconciliation(meter_no))


@router.get("/session", response_class=HTMLResponse)
def shift_page(request: Request, user: Anyone) -> Response:
    c = console(request).centre
    shift = queries.open_session(c, user.operator)
    rows = []
    if shift is not None:
        report = cash_up(c)
        rows = [dict(zip(report.columns, r, strict=True)) for r in report.rows
                if r[0] == shift.session_id]
    return render(request, "session.html", session=user, shift=shift,
                  cashup=rows[0] if rows else None)


@router.post("/session/open")
def open_shift(request: Request, user: Anyone,
               form: Form) -> Response:
    c = console(request)
    try:
        float_ = money(form.get("opening_float", "") or "0", "opening float")
        shift = c.centre.open_session(user.operator, c.station, float_)
    except (FormError, Conflict, BillingError) as e:
        return back(request, user, "/session", e)
    user.flash("ok", f"Session {shift.session_id} opened at {shift.station} with a float of "
                     f"{shift.opening_float}.")
    return redirect(request, "/")


@router.post("/session/close")
def close_shift(request: Request, user: Anyone,
                form: Form) -> Response:
    c = console(request)
    shift = queries.open_session(c.centre, user.operator)
    if shift is None:
        return back(request, user, "/session", "You have no open session.")
    try:
        counted = money(form.get("counted_cash", ""), "cash counted in the drawer")
        c.centre.close_session(shift.session_id, operator=user.operator, counted_cash=counted)
    except (FormError, BillingError) as e:
        return back(request, user, "/session", e)
    return redirect(request, f"/sessions/{shift.session_id}")


@router.get("/sessions/{session_id}", response_class=HTMLResponse)
def cashup_page(request: Request, session_id: int,
                user: Anyone) -> Response:
    report = cash_up(console(request).centre)
    rows = [dict(zip(report.columns, r, strict=True)) for r in report.rows if r[0] == session_id]
    if not rows:
        raise NotFound(f"no cashier session {session_id}")
    row = rows[0]
    if row["operator"] != user.operator and user.role.value == "cashier":
        return back(request, user, "/", "A cashier can see only their own cash-up.")
    return render(request, "cashup.html", session=user, row=row,
                  zero=Decimal("0.00"))
