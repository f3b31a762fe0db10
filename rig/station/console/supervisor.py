"""Supervisor pages: reverse an unconfirmed sale, replace a lost card, free issue, queue meter
parameters, reconciliation exceptions and every cashier's cash-up.

Each action calls the centre method that owns the rule (and audits it); the role check here
only decides which menu a cashier sees — the centre refuses a cashier on its own as well.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from rig.billing.centre.errors import VendRefused
from rig.billing.reports import cash_up
from rig.billing.types import VendStatus
from rig.errors import BillingError
from rig.station.console import queries
from rig.station.console.forms import FormError, money, required, whole_number
from rig.station.console.sessions import ConsoleSession
from rig.station.console.web import (
    SUPERVISOR,
    Form,
    back,
    console,
    redirect,
    render,
    require,
)
from rig.station.console.words import refusal
from rig.station.console.writer import WriteProblem

router = APIRouter(prefix="/supervisor")
supervisor = require(SUPERVISOR, "do supervisor work")
Supervisor = Annotated[ConsoleSession, Depends(supervisor)]


@router.get("", response_class=HTMLResponse)
def hub(request: Request, user: Supervisor) -> Response:
    c = console(request).centre
    return render(request, "supervisor.html", session=user, unconfirmed=queries.vends(
        c, statuses=(VendStatus.CREATED.value, VendStatus.WRITTEN.value)))


@router.post("/vends/{vend_id}/reverse")
def reverse(request: Request, vend_id: int, user: Supervisor,
            form: Form) -> Response:
    c = console(request).centre
    try:
        vend = c.reverse_vend(vend_id, operator=user.operator,
                              reason=required(form, "reason", "reason for the reversal"))
    except (FormError, BillingError) as e:
        return back(request, user, "/supervisor", e)
    user.flash("ok", f"Sale {vend_id} reversed: hand back {vend.amount} to the customer. "
                     f"Purchase #{vend.sequence} stays used.")
    return redirect(request, "/supervisor")


@router.get("/replace-card", response_class=HTMLResponse)
def replace_form(request: Request, user: Supervisor, meter_no: str = "") -> Response:
    return render(request, "replace_card.html", session=user, meter_no=meter_no)


@router.post("/replace-card")
def replace_card(request: Request, user: Supervisor,
                 form: Form) -> Response:
    c = console(request)
    meter_no = form.get("meter_no", "").strip()
    try:
        serial = required(form, "card_serial", "serial of the new card").upper()
        reason = "lost" if form.get("reason", "lost") == "lost" else "damaged"
        meter = c.centre.meter(required(form, "meter_no", "meter number"))
        card, moved = c.centre.replace_card(meter_no, serial, operator=user.operator,
                                            reason=reason)
    except (FormError, BillingError) as e:
        return back(request, user, f"/supervisor/replace-card?meter_no={meter_no}", e)
    note = (f" {len(moved)} unconfirmed sale(s) moved to it and must be written again."
            if moved else "")
    if form.get("personalise") == "yes" and c.writer is not None:
        try:
            c.writer.personalise(card.card_serial, meter_no, meter.key_revision)
        except WriteProblem as e:
            user.flash("error", f"Card {serial} is registered but not yet set up: {e} "
                                "Use “Set up card” on the meter page.")
            return redirect(request, f"/meters/{meter_no}")
        user.flash("ok", f"New card {serial} set up for meter {meter_no}.{note}")
    else:
        user.flash("ok", f"New card {serial} registered for meter {meter_no}.{note}")
    return redirect(request, f"/meters/{meter_no}")


@router.post("/cards/setup")
def setup_card(request: Request, user: Supervisor,
               form: Form) -> Response:
    """Personalise the meter's active card at the reader (after a replacement)."""
    c = console(request)
    meter_no = form.get("meter_no", "")
    active = [s for s, status, _ in queries.cards(c.centre, meter_no) if status == "active"]
    if not active or c.writer is None:
        return back(request, user, f"/meters/{meter_no}",
                    "There is no active card to set up, or no card writer here.")
    try:
        c.writer.personalise(active[0], meter_no, c.centre.meter(meter_no).key_revision)
    except WriteProblem as e:
        return back(request, user, f"/meters/{meter_no}", e)
    user.flash("ok", f"Card {active[0]} set up for meter {meter_no}.")
    return redirect(request, f"/meters/{meter_no}")


@router.get("/free-issue", response_class=HTMLResponse)
def free_form(request: Request, user: Supervisor, meter_no: str = "") -> Response:
    return render(request, "free_issue.html", session=user, meter_no=meter_no)


@router.post("/free-issue")
def free_issue(request: Request, user: Supervisor,
               form: Form) -> Response:
    c = console(request)
    meter_no = form.get("meter_no", "").strip()
    try:
        vend = c.centre.free_issue(
            required(form, "meter_no", "meter number"),
            whole_number(form.get("credit", ""), "credit (in the meter's units)"),
            request_id=form.get("request_id") or uuid.uuid4().hex, station=c.station,
            operator=user.operator, reason=required(form, "reason", "reason"))
    except VendRefused as e:
        return back(request, user, f"/supervisor/free-issue?meter_no={meter_no}", refusal(e))
    except (FormError, BillingError) as e:
        return back(request, user, f"/supervisor/free-issue?meter_no={meter_no}", e)
    user.flash("ok", f"Free issue of {vend.credit} recorded. Now write the card.")
    return redirect(request, f"/vends/{vend.vend_id}")


@router.get("/parameters", response_class=HTMLResponse)
def parameters_form(request: Request, user: Supervisor, meter_no: str = "") -> Response:
    pending = None
    if meter_no:
        pending = console(request).centre.pending_parameters(meter_no)
    return render(request, "parameters.html", session=user, meter_no=meter_no, pending=pending)


@router.post("/parameters")
def queue_parameters(request: Request, user: Supervisor,
                     form: Form) -> Response:
    c = console(request).centre
    meter_no = form.get("meter_no", "").strip()
    try:
        params = {k: whole_number(form[k], f"{k} threshold")
                  for k in ("alarm1", "alarm2") if form.get(k, "").strip()}
        if not params:
            raise FormError("Enter at least one alarm threshold.")
        merged = c.queue_parameters(required(form, "meter_no", "meter number"),
                                    operator=user.operator, **params)
    except (FormError, BillingError) as e:
        return back(request, user, f"/supervisor/parameters?meter_no={meter_no}", e)
    user.flash("ok", f"Queued for meter {meter_no}: {merged}. They go onto the card with "
                     "its next purchase.")
    return redirect(request, f"/supervisor/parameters?meter_no={meter_no}")


@router.get("/exceptions", response_class=HTMLResponse)
def exceptions(request: Request, user: Supervisor) -> Response:
    return render(request, "exceptions.html", session=user,
                  exceptions=console(request).centre.reconciliation_exceptions())


@router.get("/sessions", response_class=HTMLResponse)
def sessions(request: Request, user: Supervisor) -> Response:
    report = cash_up(console(request).centre)
    rows = [dict(zip(report.columns, r, strict=True)) for r in report.rows]
    return render(request, "sessions.html", session=user, rows=rows, report=report)


@router.post("/sessions/{session_id}/close")
def close_any(request: Request, session_id: int, user: Supervisor,
              form: Form) -> Response:
    try:
        counted = money(form.get("counted_cash", ""), "cash counted in the drawer")
        console(request).centre.close_session(session_id, operator=user.operator,
                                              counted_cash=counted)
    except (FormError, BillingError) as e:
        return back(request, user, "/supervisor/sessions", e)
    return redirect(request, f"/sessions/{session_id}")
