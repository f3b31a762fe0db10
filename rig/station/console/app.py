"""The vending console app: login/logout, error pages, and the cashier, supervisor, report,
audit and agent pages mounted from their own modules.

``create_console_app`` returns a FastAPI (ASGI) app, so it runs alone under uvicorn or is
mounted beside the REST API (``api.mount("/console", console_app)``).
"""

from __future__ import annotations

import hmac
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from rig.billing.centre.errors import NotFound, PermissionDenied
from rig.billing.centre.facade import BillingCentre
from rig.billing.display import display_locale, station_zone
from rig.billing.security_headers import SecurityHeaders
from rig.errors import BillingError
from rig.printer.station_printer import ReceiptPrinter
from rig.station.console import agents_pages, cashier, reports_pages, sts_pages, supervisor
from rig.station.console.forms import FormError, parse_body
from rig.station.console.sessions import LoginThrottle, SessionStore
from rig.station.console.web import (
    COOKIE,
    LOGIN_COOKIE,
    Console,
    CsrfFailed,
    Forbidden,
    LoginRequired,
    console,
    csrf_form,
    make_env,
    new_login_token,
    redirect,
    render,
)
from rig.station.console.writer import CardWriter


def create_console_app(
    centre: BillingCentre,
    *,
    station: str,
    writer: CardWriter | None = None,
    secure_cookies: bool = True,
    idle_timeout_s: float = 3600.0,
    session_max_age_s: float = 12 * 3600.0,
    throttle: LoginThrottle | None = None,
    time_zone: str | None = None,
    locale: str | None = None,
    printer: ReceiptPrinter | None = None,
) -> FastAPI:
    """The console for the vending PC at ``station`` whose card writer is ``writer`` (and
    whose ESC/POS receipt printer is ``printer``: every sale and reprint prints there).

    ``secure_cookies`` marks the session cookie Secure (HTTPS only); turn it off only for a
    console served on loopback over plain HTTP (tests, a single vending PC).
    ``idle_timeout_s`` and ``session_max_age_s``: a login session ends after that long unused,
    and that long after login whatever its use. ``time_zone`` (IANA name) and ``locale``:
    how the pages show times and money (default ``$RIG_TIME_ZONE`` / the machine's zone, and
    ``$RIG_LOCALE`` / ``en``; see :mod:`rig.billing.display`).
    """
    app = FastAPI(title="rig vending console", docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.console = Console(
        centre, station, writer, SessionStore(idle_timeout_s, session_max_age_s),
        throttle if throttle is not None else LoginThrottle(), make_env(), secure_cookies,
        station_zone(time_zone), display_locale(locale), printer)
    app.add_middleware(SecurityHeaders)
    _install_errors(app)
    _install_login(app)
    for module in (cashier, supervisor, sts_pages, reports_pages, agents_pages):
        app.include_router(module.router)
    return app


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        return redirect(request, f"/login?next={quote(exc.next_url, safe='/')}")

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        return render(request, "message.html", status=403, title="Not allowed",
                      message=str(exc))

    @app.exception_handler(PermissionDenied)
    async def denied(request: Request, exc: PermissionDenied) -> Response:
        return render(request, "message.html", status=403, title="Not allowed",
                      message=str(exc))

    @app.exception_handler(CsrfFailed)
    async def csrf_failed(request: Request, exc: CsrfFailed) -> Response:
        return render(request, "message.html", status=403, title="Form expired",
                      message="This form is out of date (or did not come from this console). "
                              "Go back, reload the page and try again. Nothing was done.")

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        return render(request, "message.html", status=404, title="Not found", message=str(exc))

    @app.exception_handler(BillingError)
    async def billing_error(request: Request, exc: BillingError) -> Response:
        return render(request, "message.html", status=400, title="Refused", message=str(exc))

    @app.exception_handler(FormError)
    async def form_error(request: Request, exc: FormError) -> Response:
        return render(request, "message.html", status=400, title="Check the form",
                      message=str(exc))


def _safe_next(url: str) -> str:
    """Only a path on this console (never another site) is followed after login."""
    offsite = url.startswith(("//", "/\\")) or not url.startswith("/")
    return "/" if offsite else url


def _install_login(app: FastAPI) -> None:
    def login_page(request: Request, *, error: str = "", info: str = "",
                   status: int = 200) -> HTMLResponse:
        token = new_login_token()
        response = render(request, "login.html", status=status, session=None,
                          login_token=token, error=error, info=info,
                          next=_safe_next(request.query_params.get("next", "/")))
        response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict",
                            secure=console(request).secure_cookies)
        return response

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request) -> Response:
        if console(request).store.get(request.cookies.get(COOKIE)) is not None:
            return redirect(request, "/")
        info = "You have logged out." if request.query_params.get("bye") else ""
        return login_page(request, info=info)

    @app.post("/login")
    async def login(request: Request) -> Response:
        c = console(request)
        form = parse_body(await request.body())
        expected = request.cookies.get(LOGIN_COOKIE, "")
        if not expected or not hmac.compare_digest(form.get("login_token", "").encode(),
                                                   expected.encode()):
            return login_page(request, status=403,
                              error="The login form had expired. Please log in again.")
        name, password = form.get("name", "").strip(), form.get("password", "")
        # Admitting reserves a place before the await, so parallel guesses count at once.
        wait = c.throttle.admit(name)
        if wait > 0:
            return login_page(request, status=429, error=(
                f"Too many wrong passwords for {name}. Try again in {int(wait) // 60 + 1} "
                "minute(s), or ask an administrator to set a new password."))
        answered, checked = False, None
        try:
            # The KDF takes tens of milliseconds: keep it off the event loop. It runs for
            # every attempt (an empty password too), so every refusal takes as long.
            checked = await run_in_threadpool(c.centre.check_login, name, password)
            answered = True
        finally:  # an attempt the centre could not answer (database busy) is not a failure
            c.throttle.settle(name, ok=checked is not None, counted=answered)
        if checked is None:
            return login_page(request, status=401, error="Name or password is wrong.")
        operator, stamp = checked
        session = c.store.create(operator.name, operator.role, stamp)
        response = redirect(request, _safe_next(form.get("next", "/")))
        response.set_cookie(COOKIE, session.token, httponly=True, samesite="strict",
                            secure=c.secure_cookies)
        response.delete_cookie(LOGIN_COOKIE)
        return response

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        await csrf_form(request)
        console(request).store.drop(request.cookies.get(COOKIE, ""))
        response = redirect(request, "/login?bye=1")
        response.delete_cookie(COOKIE)
        return response
