"""Keypad (STS) meters at the console: register a meter's STS identity (administrator, the
centre's rule), issue management tokens and key change sets, roll a supply group over to the
next base date (supervisor).

Every action is the centre's method, which checks the role again and audits it without the
token's digits or any key (docs/sts.md). The identity form names every bad field beside it and
keeps what was typed. Tokens are shown on a page reached by redirect (a reload shows them
again and issues nothing new), read back from the centre's record of them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from rig.billing.types import StsTokenInfo
from rig.errors import BillingError
from rig.station.console import web
from rig.station.console.forms import FormError, required, whole_number
from rig.station.console.sessions import ConsoleSession
from rig.station.console.web import Form, back, console, redirect, render
from rig.sts.identity import StsSection
from rig.sts.token import grouped

router = APIRouter(prefix="/supervisor/sts")
Supervisor = Annotated[ConsoleSession, Depends(web.require(web.SUPERVISOR, "issue STS tokens"))]
Administrator = Annotated[ConsoleSession, Depends(web.require(
    web.ADMINISTRATOR, "register a meter's STS identity"))]

IDENTITY_FIELDS = ("pan", "supply_group", "tariff_index", "key_revision", "key_type", "dkga",
                   "encryption", "base_date", "currency_step")
WHOLE = ("key_revision", "key_type", "base_date")  # typed as text, compared as numbers
DEFAULTS = {"tariff_index": "01", "key_revision": "1", "key_type": "2", "dkga": "dkga02",
            "encryption": "sta", "base_date": "2014", "currency_step": "0.00001"}
KINDS = {"power_limit": "Set maximum power limit", "clear_credit": "Clear credit",
         "clear_tamper": "Clear tamper condition"}


def identity_errors(form: dict[str, str]) -> tuple[StsSection | None, dict[str, str]]:
    """The identity the form describes, or every field at fault with why (one line each)."""
    values: dict[str, Any] = {k: form.get(k, "").strip() for k in IDENTITY_FIELDS}
    for k in WHOLE:
        if values[k].isascii() and values[k].isdigit():
            values[k] = int(values[k])
    try:
        return StsSection.model_validate(values), {}
    except ValidationError as e:
        errors: dict[str, str] = {}
        for err in e.errors():
            field = str(err["loc"][0]) if err["loc"] else "pan"
            errors.setdefault(field, str(err["msg"]).removeprefix("Value error, "))
        return None, errors


@router.get("", response_class=HTMLResponse)
def desk(request: Request, user: Supervisor, meter_no: str = "") -> Response:
    return _desk(request, user, meter_no.strip())


def _desk(request: Request, user: ConsoleSession, meter_no: str, *, status: int = 200,
          typed: dict[str, str] | None = None, errors: dict[str, str] | None = None
          ) -> HTMLResponse:
    identity = None
    if meter_no:
        try:
            identity = console(request).centre.sts_identity(meter_no)
        except BillingError as e:
            user.flash("error", str(e))
    return render(request, "sts.html", status=status, session=user, meter_no=meter_no,
                  identity=identity, typed=typed or {"meter_no": meter_no, **DEFAULTS},
                  errors=errors or {}, kinds=KINDS)


@router.post("/register")
def register(request: Request, user: Administrator, form: Form) -> Response:
    meter_no = form.get("meter_no", "").strip()
    typed = {k: form.get(k, "") for k in ("meter_no", *IDENTITY_FIELDS)}
    ident, errors = identity_errors(form)
    if not meter_no:
        errors = {"meter_no": "Enter the meter number.", **errors}
    if ident is None or errors:
        user.flash("error", f"The STS identity has {len(errors)} field(s) to correct: "
                            + "; ".join(f"{k}: {v}" for k, v in errors.items()))
        return _desk(request, user, meter_no, status=400, typed=typed, errors=errors)
    try:
        console(request).centre.register_sts_meter(meter_no, ident, actor=user.operator)
    except BillingError as e:
        user.flash("error", str(e))
        return _desk(request, user, meter_no, status=400, typed=typed)
    user.flash("ok", f"Meter {meter_no} registered as a keypad meter (PAN {ident.pan}): its "
                     "sales are STS tokens from now on.")
    return redirect(request, f"/supervisor/sts?meter_no={meter_no}")


@router.post("/token")
def management(request: Request, user: Supervisor, form: Form) -> Response:
    meter_no = form.get("meter_no", "").strip()
    try:
        kind = form.get("kind", "")
        if kind not in KINDS:
            raise FormError("Choose the kind of management token.")
        watts = whole_number(form.get("watts", ""), "power limit in watts") \
            if kind == "power_limit" else 0
        made = console(request).centre.sts_management_token(
            required(form, "meter_no", "meter number"), kind, watts, operator=user.operator)
    except (FormError, BillingError) as e:
        return back(request, user, f"/supervisor/sts?meter_no={meter_no}", e)
    user.flash("ok", f"{KINDS[kind]} token made for meter {meter_no}: give it to whoever "
                     "types it on the meter's keypad.")
    return _shown(request, [made])


@router.post("/key-change")
def key_change(request: Request, user: Supervisor, form: Form) -> Response:
    meter_no = form.get("meter_no", "").strip()
    try:
        changes: dict[str, Any] = {}
        for name, what in (("key_revision", "key revision (1-9)"),
                           ("key_type", "key type (0-3)")):
            if form.get(name, "").strip():
                changes[name] = whole_number(form[name], what)
        for name in ("tariff_index", "supply_group"):
            if form.get(name, "").strip():
                changes[name] = form[name].strip()
        made = console(request).centre.sts_key_change(
            required(form, "meter_no", "meter number"), operator=user.operator,
            rollover=form.get("rollover") == "yes", **changes)
    except (FormError, BillingError) as e:
        return back(request, user, f"/supervisor/sts?meter_no={meter_no}", e)
    user.flash("ok", f"Key change set for meter {meter_no}: {len(made)} tokens, to be typed in "
                     "this order before any token sold from now on.")
    return _shown(request, made)


@router.post("/rollover")
def rollover(request: Request, user: Supervisor, form: Form) -> Response:
    try:
        group = required(form, "supply_group", "supply group code")
        moved = console(request).centre.sts_rollover(group, operator=user.operator)
    except (FormError, BillingError) as e:
        return back(request, user, "/supervisor/sts", e)
    if not moved:
        return back(request, user, "/supervisor/sts",
                    f"Every meter of supply group {group} is on the newest base date already.")
    user.flash("ok", f"Supply group {group}: {len(moved)} meter(s) get a roll-over key change "
                     "set, to be typed before their next token.")
    return _shown(request, [t for tokens in moved.values() for t in tokens])


def _shown(request: Request, made: list[StsTokenInfo]) -> Response:
    ids = ",".join(f"{t.meter_no}:{t.token_id}" for t in made)
    return redirect(request, f"/supervisor/sts/issued?tokens={ids}")


@router.get("/issued", response_class=HTMLResponse)
def issued(request: Request, user: Supervisor, tokens: str = "") -> Response:
    """The tokens just made, in the order they are typed (read back from the centre)."""
    c = console(request).centre
    wanted: dict[str, list[int]] = {}
    try:
        for pair in filter(None, tokens.split(",")):
            meter_no, _, token_id = pair.partition(":")
            wanted.setdefault(meter_no, []).append(int(token_id))
        shown = [t for meter_no, ids in wanted.items() for t in c.sts_tokens(meter_no)
                 if t.token_id in ids]
    except (ValueError, BillingError):
        return back(request, user, "/supervisor/sts", "No such tokens.")
    return render(request, "sts_issued.html", session=user, tokens=shown, grouped=grouped,
                  kinds=KINDS)
