"""The REST API application: one FastAPI app over one :class:`BillingCentre`.

Routes are thin: each validates the wire format, checks the caller's role and calls exactly
one service method, so every business rule stays in :mod:`rig.billing.centre`. Handlers are
plain ``def``: FastAPI runs them in its thread pool and each service call is one transaction.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from rig.billing.api import errors
from rig.billing.api.body_limit import DEFAULT_MAX_BODY_BYTES, BodyLimit
from rig.billing.api.routers import (
    admin,
    customers,
    meters,
    readbacks,
    sessions,
    sts,
    tariffs,
    vends,
)
from rig.billing.api.schemas import ErrorOut
from rig.billing.centre import BillingCentre
from rig.billing.security_headers import SecurityHeaders

ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorOut, "description": text}
    for code, text in (
        (400, "invalid input the service refused (names the field and the rule)"),
        (401, "missing, unknown, expired or revoked bearer token"),
        (403, "the operator's role does not allow this, or the token is not bound to the "
              "station named"),
        (404, "a named customer, meter, card, vend, operator or station does not exist"),
        (409, "conflicts with existing records (duplicate, unapplied purchase, reused id)"),
        (413, "the request body is larger than the server's limit (nothing was read)"),
        (422, "malformed request or a refused vend (``reason`` gives the code)"),
        (503, "the database stayed locked too long; nothing was committed, retry the same "
              "request after ``Retry-After`` seconds"),
    )
}


DEFAULT_TOKEN_LIFETIME = timedelta(days=90)
DOCS_ASSETS = "/docs-assets"  # Swagger UI / ReDoc files served by the API itself


def create_app(centre: BillingCentre, *,
               token_lifetime: timedelta | None = DEFAULT_TOKEN_LIFETIME,
               max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> FastAPI:
    """The API over ``centre``; ``token_lifetime`` is how long a token made by ``POST /tokens``
    without ``expires_in_s`` lives (None: such tokens never expire); request bodies above
    ``max_body_bytes`` are refused with 413 before authentication and parsing (also for a
    console mounted on this app)."""
    # /docs and /redoc from Swagger UI and ReDoc files installed with the package (rig[server]):
    # they work on a lab network with no internet, and the page policy need trust no CDN.
    app = FastAPIOffline(
        static_url=DOCS_ASSETS,
        title="rig billing centre",
        version="1",
        summary="Prepaid energy vending: customers, meters, tariffs, vends, readbacks, audit.",
        description="Bearer-token API. Money is a decimal string (\"20.00\"), never a number. "
                    "Roles: cashier < supervisor < administrator.",
        responses=ERRORS,
    )
    app.state.centre = centre
    app.state.token_lifetime = token_lifetime
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)  # outermost: before anything reads
    errors.install(app)

    @app.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        """Liveness without authentication (says nothing about the data)."""
        return {"status": "ok"}

    for module in (customers, meters, tariffs, vends, sessions, readbacks, admin, sts):
        app.include_router(module.router)
    return app
