"""Vending agents (float, credit limit, top-ups, statement) and operator passwords.

Supervisors top up and read statements; administrators register agents, bind stations to
them and set operators' console passwords (typed into a password field, never echoed,
never logged).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from rig.billing.passwords import PasswordPolicyError, check_policy
from rig.errors import BillingError
from rig.station.console import queries
from rig.station.console.forms import FormError, money, required
from rig.station.console.sessions import ConsoleSession
from rig.station.console.web import (
    ADMINISTRATOR,
    SUPERVISOR,
    Form,
    back,
    console,
    redirect,
    render,
    require,
)

router = APIRouter()
supervisor = require(SUPERVISOR, "manage vending agents")
Supervisor = Annotated[ConsoleSession, Depends(supervisor)]
administrator = require(ADMINISTRATOR, "administer agents and operators")
Administrator = Annotated[ConsoleSession, Depends(administrator)]


@router.get("/agents", response_class=HTMLResponse)
def agents_page(request: Request, user: Supervisor) -> Response:
    c = console(request).centre
    return render(request, "agents.html", session=user, agents=c.list_agents(),
                  stations=queries.stations(c))


@router.post("/agents")
def register(request: Request, user: Administrator,
             form: Form) -> Response:
    try:
        agent = console(request).centre.register_agent(
            required(form, "name", "agent name"),
            money(form.get("credit_limit", "") or "0", "credit limit"), actor=user.operator)
    except (FormError, BillingError) as e:
        return back(request, user, "/agents", e)
    user.flash("ok", f"Agent {agent.name} registered with a credit limit of "
                     f"{agent.credit_limit}.")
    return redirect(request, "/agents")


@router.post("/agents/{name}/stations")
def bind_station(request: Request, name: str, user: Administrator,
                 form: Form) -> Response:
    try:
        console(request).centre.assign_agent_station(
            name, required(form, "station", "station"), actor=user.operator)
    except (FormError, BillingError) as e:
        return back(request, user, "/agents", e)
    user.flash("ok", f"Station {form['station']} now sells for {name}.")
    return redirect(request, "/agents")


@router.post("/agents/{name}/topup")
def top_up(request: Request, name: str, user: Supervisor,
           form: Form) -> Response:
    try:
        agent = console(request).centre.top_up_agent(
            name, money(form.get("amount", ""), "top-up amount"), actor=user.operator,
            reference=form.get("reference", "").strip())
    except (FormError, BillingError) as e:
        return back(request, user, f"/agents/{name}", e)
    user.flash("ok", f"Top-up recorded. {agent.name} now has {agent.available} available.")
    return redirect(request, f"/agents/{name}")


@router.get("/agents/{name}", response_class=HTMLResponse)
def statement(request: Request, name: str, user: Supervisor) -> Response:
    c = console(request).centre
    return render(request, "agent.html", session=user, agent=c.agent(name),
                  entries=c.agent_statement(name))


@router.get("/admin/operators", response_class=HTMLResponse)
def operators_page(request: Request, user: Administrator) -> Response:
    return render(request, "operators.html", session=user,
                  operators=queries.operators(console(request).centre))


@router.post("/admin/operators")
def add_operator(request: Request, user: Administrator,
                 form: Form) -> Response:
    c = console(request).centre
    try:
        name = required(form, "name", "operator name")
        check_policy(form.get("password", ""))  # before the operator exists without one
        c.register_operator(name, form.get("role", "cashier"))
        c.set_password(name, form.get("password", ""), actor=user.operator)
    except (FormError, PasswordPolicyError, BillingError) as e:
        return back(request, user, "/admin/operators", e)
    user.flash("ok", f"Operator {name} added; they can log in now.")
    return redirect(request, "/admin/operators")


@router.post("/admin/operators/{name}/password")
def set_password(request: Request, name: str, user: Administrator,
                 form: Form) -> Response:
    try:
        console(request).centre.set_password(name, form.get("password", ""),
                                             actor=user.operator)
    except BillingError as e:
        return back(request, user, "/admin/operators", e)
    if console(request).store.drop_operator(name) and name == user.operator:
        return redirect(request, "/login")  # their own sessions end with the old password
    user.flash("ok", f"Password of {name} changed.")
    return redirect(request, "/admin/operators")
