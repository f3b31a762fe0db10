"""Domain errors → HTTP replies, in one table.

The service raises one exception tree (:mod:`rig.errors` / :mod:`rig.billing.centre.errors`); the
API maps each kind to a status code and returns the service's own message as ``detail``, so
the operator sees the same sentence the CLI prints. Refusals keep their stable ``reason``.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from rig.billing.busy import BillingBusy
from rig.billing.centre.errors import Conflict, NotFound, PermissionDenied, VendRefused
from rig.billing.storage import BillingStorageError, storage_error
from rig.errors import BillingError

# Refusals that are really "that does not exist" or "that clashes with what is there".
REFUSAL_STATUS = {
    "unknown_meter": status.HTTP_404_NOT_FOUND,
    "unknown_station": status.HTTP_404_NOT_FOUND,
    "unknown_operator": status.HTTP_404_NOT_FOUND,
    "request_id_conflict": status.HTTP_409_CONFLICT,
    "unapplied_purchase": status.HTTP_409_CONFLICT,
}
HTTP_KIND = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}


def _reply(code: int, error: str, detail: str, reason: str | None = None,
           headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": error, "detail": detail, "reason": reason}
    return JSONResponse(body, status_code=code, headers=headers)


def billing_error(_request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, BillingBusy):
        # Nothing was committed: the client retries the same request after a pause.
        return _reply(status.HTTP_503_SERVICE_UNAVAILABLE, "busy", str(exc), exc.reason,
                      headers={"Retry-After": str(exc.retry_after_s)})
    if isinstance(exc, BillingStorageError):
        # The database could not store or answer; the message says what and that nothing
        # was committed. Not Retry-After: a full disk or a read-only file needs a person.
        return _reply(status.HTTP_503_SERVICE_UNAVAILABLE, "storage", str(exc), exc.kind)
    if isinstance(exc, VendRefused):
        code = REFUSAL_STATUS.get(exc.reason, status.HTTP_422_UNPROCESSABLE_CONTENT)
        return _reply(code, "refused", str(exc), exc.reason)
    if isinstance(exc, PermissionDenied):
        return _reply(status.HTTP_403_FORBIDDEN, "forbidden", str(exc))
    if isinstance(exc, NotFound):
        return _reply(status.HTTP_404_NOT_FOUND, "not_found", str(exc))
    if isinstance(exc, Conflict):
        return _reply(status.HTTP_409_CONFLICT, "conflict", str(exc))
    return _reply(status.HTTP_400_BAD_REQUEST, "invalid", str(exc))


def http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return _reply(exc.status_code, HTTP_KIND.get(exc.status_code, "http_error"),
                  str(exc.detail), headers=exc.headers)


def _where(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "request"


def validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # A rule's own sentence, without pydantic's "Value error, " in front of it.
    problems = [f"{_where(tuple(e['loc']))}: {e['msg'].removeprefix('Value error, ')}"
                for e in exc.errors()]
    return _reply(status.HTTP_422_UNPROCESSABLE_CONTENT, "invalid_request", "; ".join(problems))


def internal_error(request: Request, exc: Exception) -> JSONResponse:
    centre = getattr(request.app.state, "centre", None)
    failed = storage_error(exc, f"{request.method} {request.url.path}", centre.engine.url) \
        if isinstance(exc, DBAPIError) and centre is not None else None
    if failed is not None:  # a database failure outside the service's own mapping
        return billing_error(request, failed)
    # The traceback goes to the server log (uvicorn); the client learns only that it failed.
    return _reply(status.HTTP_500_INTERNAL_SERVER_ERROR, "internal",
                  f"internal error ({type(exc).__name__}); the server log has the details")


def install(app: FastAPI) -> None:
    app.add_exception_handler(Exception, internal_error)
    app.add_exception_handler(BillingError, billing_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
