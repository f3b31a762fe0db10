"""The console's plumbing: who is logged in, what their role may do, CSRF, page rendering.

Every check is server-side: a page hidden from a cashier's menu is also refused to a cashier
who types its address. Every POST carries the session's CSRF token (compared in constant
time), so another site cannot make a logged-in browser sell, reverse or log out.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, tzinfo
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape

from rig.billing.centre.facade import BillingCentre
from rig.billing.currency import centre_currency
from rig.billing.display import Display
from rig.billing.types import OperatorRole
from rig.printer.station_printer import ReceiptPrinter
from rig.station.console.forms import FormError, parse_body
from rig.station.console.sessions import ConsoleSession, LoginThrottle, SessionStore
from rig.station.console.writer import CardWriter

COOKIE = "rig_console"
LOGIN_COOKIE = "rig_console_login"
CASHIER = frozenset(OperatorRole)
SUPERVISOR = frozenset({OperatorRole.SUPERVISOR, OperatorRole.ADMINISTRATOR})
ADMINISTRATOR = frozenset({OperatorRole.ADMINISTRATOR})


@dataclass
class Console:
    """Everything a request handler needs; one per app (``app.state.console``)."""

    centre: BillingCentre
    station: str
    writer: CardWriter | None
    store: SessionStore
    throttle: LoginThrottle
    env: Environment
    secure_cookies: bool
    zone: tzinfo = UTC  # the station's time zone: pages show times in it (stored in UTC)
    locale: str = "en"
    printer: ReceiptPrinter | None = None  # the station's ESC/POS receipt printer (issue 29)

    def display(self) -> Display:
        """How this station shows money and times; the currency is read from the centre (it
        is set once, by an administrator, and may be set while the console runs)."""
        return Display(centre_currency(self.centre), self.zone, self.locale)


class LoginRequired(Exception):
    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class Forbidden(Exception):
    """The operator's role may not do this; the message says who may."""


class CsrfFailed(Exception):
    """The form's CSRF token is missing or is not this session's."""


def make_env() -> Environment:
    env = Environment(loader=FileSystemLoader(Path(__file__).with_name("templates")),
                      autoescape=select_autoescape(["html"]), trim_blocks=True,
                      lstrip_blocks=True)
    env.filters["money"] = pass_context(lambda ctx, v: ctx["display"].money(v))
    env.filters["credit"] = pass_context(lambda ctx, v, unit: ctx["display"].credit(v, unit))
    env.filters["when"] = pass_context(lambda ctx, v: ctx["display"].time(v))
    env.filters["when_s"] = pass_context(lambda ctx, v: ctx["display"].time(v, seconds=True))
    env.filters["clock"] = pass_context(lambda ctx, v: ctx["display"].clock(v))
    env.filters["label"] = Display.label
    env.filters["vend_status"] = Display.status
    return env


def console(request: Request) -> Console:
    return request.app.state.console  # type: ignore[no-any-return]


def current(request: Request) -> ConsoleSession:
    """The logged-in session, or LoginRequired (→ the login page, then back here). A session
    whose operator's password changed since its login has ended."""
    c = console(request)
    session = c.store.get(request.cookies.get(COOKIE))
    if session is not None and c.centre.password_stamp(session.operator) != \
            session.password_stamp:
        c.store.drop(session.token)  # the password changed since this login
        session = None
    if session is None:
        path, mount = request.url.path, root(request)
        raise LoginRequired(path[len(mount):] if mount and path.startswith(mount) else path)
    return session


def require(roles: frozenset[OperatorRole], what: str) -> Callable[[Request], ConsoleSession]:
    """Dependency: the session, if its role is one of ``roles``; Forbidden otherwise."""
    def dependency(request: Request) -> ConsoleSession:
        session = current(request)
        if session.role not in roles:
            allowed = " or ".join(f"{'an' if r.value[0] in 'aeiou' else 'a'} {r.value}"
                                  for r in sorted(roles))
            raise Forbidden(f"Only {allowed} may {what}. You are logged in as "
                            f"{session.operator} ({session.role.value}).")
        return session
    return dependency


async def csrf_form(request: Request) -> dict[str, str]:
    """The posted form, after checking its CSRF token against the session's."""
    session = current(request)
    try:
        form = parse_body(await request.body())
    except FormError:
        raise CsrfFailed() from None
    if not hmac.compare_digest(form.get("csrf", "").encode(), session.csrf.encode()):
        raise CsrfFailed()
    return form


Form = Annotated[dict[str, str], Depends(csrf_form)]


def new_login_token() -> str:
    return secrets.token_urlsafe(32)


def render(request: Request, template: str, *, status: int = 200,
           session: ConsoleSession | None = None, **context: Any) -> HTMLResponse:
    c = console(request)
    if session is None:
        session = c.store.get(request.cookies.get(COOKIE))
    html = c.env.get_template(template).render(
        request=request, user=session, station=c.station,
        reader=c.writer.reader_name if c.writer else None,
        printer=c.printer.where if c.printer else None,
        flashes=session.pop_flashes() if session else [],
        csrf=session.csrf if session else "", root=root(request), SUPERVISOR=SUPERVISOR,
        ADMINISTRATOR=ADMINISTRATOR, display=c.display(), **context)
    return HTMLResponse(html, status_code=status)


def root(request: Request) -> str:
    """The path the console is mounted at ("" when it is the whole app)."""
    return str(request.scope.get("root_path", ""))


def redirect(request: Request, path: str) -> RedirectResponse:
    return RedirectResponse(root(request) + path, status_code=303)


def back(request: Request, session: ConsoleSession, path: str,
         error: Exception | str) -> RedirectResponse:
    """Show ``error`` on the page at ``path`` (post/redirect/get keeps reloads harmless)."""
    session.flash("error", str(error))
    return redirect(request, path)
