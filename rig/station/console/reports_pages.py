"""Reports (the centre's six reports with their chart and CSV download) and the audit trail
with filters and the hash-chain verification. Supervisors and administrators only."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from rig.billing import reports
from rig.billing.centre.facade import BillingCentre
from rig.billing.reports.model import Report
from rig.billing.reports.render import cell_text, chart_png
from rig.station.console.forms import FormError
from rig.station.console.sessions import ConsoleSession
from rig.station.console.web import SUPERVISOR, console, render, require

router = APIRouter()
supervisor = require(SUPERVISOR, "see reports and the audit trail")
Supervisor = Annotated[ConsoleSession, Depends(supervisor)]

TITLES = {"daily-sales": "Daily sales", "cash-up": "Cash-up per session",
          "consumption": "Consumption", "arrears": "Arrears", "exceptions": "Exceptions",
          "stale-meters": "Stale meters"}


def _day(text: str, default: date) -> date:
    if not text.strip():
        return default
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise FormError(f"“{text}” is not a date: use YYYY-MM-DD.") from None


def period(centre: BillingCentre, params: dict[str, str]) -> tuple[date, date]:
    """The report period in ``params``; by default the last 7 days (UTC)."""
    today = centre.now().date()
    start = _day(params.get("start", ""), today - timedelta(days=6))
    end = _day(params.get("end", ""), today)
    if end < start:
        raise FormError(f"The period ends ({end}) before it starts ({start}).")
    return start, end


def build(centre: BillingCentre, name: str, params: dict[str, str]) -> Report:
    """The named report over the period in ``params``."""
    start, end = period(centre, params)
    days_text = params.get("days", "").strip() or "30"
    if not days_text.isdigit():
        raise FormError("Enter the number of days as a whole number.")
    makers: dict[str, Callable[[], Report]] = {
        "daily-sales": lambda: reports.daily_sales(centre, start, end),
        "cash-up": lambda: reports.cash_up(centre, start, end),
        "consumption": lambda: reports.consumption(centre, start, end),
        "arrears": lambda: reports.arrears(centre),
        "exceptions": lambda: reports.exceptions(centre),
        "stale-meters": lambda: reports.stale_meters(centre, int(days_text)),
    }
    if name not in makers:
        raise FormError(f"There is no report called “{name}”.")
    return makers[name]()


@router.get("/reports", response_class=HTMLResponse)
def reports_page(request: Request, user: Supervisor) -> Response:
    params = dict(request.query_params)
    name = params.get("name", "daily-sales")
    centre = console(request).centre
    start, end = period(centre, params)
    params.update(start=start.isoformat(), end=end.isoformat())  # shown in the form
    report = build(centre, name, params)
    chart = None
    if report.chart is not None and report.chart.labels:
        chart = base64.b64encode(chart_png(report.chart)).decode("ascii")
    return render(request, "reports.html", session=user, titles=TITLES, name=name,
                  params=params, report=report, chart=chart, text=cell_text,
                  query=str(request.query_params))


@router.get("/reports/{name}.csv")
def report_csv(request: Request, name: str, user: Supervisor) -> Response:
    report = build(console(request).centre, name, dict(request.query_params))
    return Response(reports.to_csv(report), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{report.name}.csv"'})


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, user: Supervisor) -> Response:
    c = console(request).centre
    p = {k: v.strip() for k, v in request.query_params.items()}
    entries = c.audit_log(p.get("entity") or None)
    if p.get("actor"):
        entries = [e for e in entries if e.actor == p["actor"]]
    if p.get("action"):
        entries = [e for e in entries if e.action.startswith(p["action"])]
    if p.get("since"):
        since = _day(p["since"], date.min)
        entries = [e for e in entries if e.at.date() >= since]
    if p.get("until"):
        until = _day(p["until"], date.max)
        entries = [e for e in entries if e.at.date() <= until]
    shown = list(reversed(entries))[:200]
    return render(request, "audit.html", session=user, entries=shown, total=len(entries),
                  params=p, chain=c.verify_audit_chain(), checked_at=datetime.now().astimezone())
