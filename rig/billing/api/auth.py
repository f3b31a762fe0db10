"""Bearer-token authentication and role checks of the REST API.

A request carries ``Authorization: Bearer <token>``; the token names one operator and the
stations it may sell at, and may expire (tokens are created by an administrator and stored
hashed, see :mod:`rig.billing.tokens`). Roles are
ordered cashier < supervisor < administrator and each route states the least role it needs.
The service checks the roles it knows about itself as well; this layer adds the ones that
belong to the API's surface (who may touch master data, tokens and the audit report).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from rig.billing.centre import BillingCentre
from rig.billing.roles import may, needs_words
from rig.billing.types import OperatorInfo, OperatorRole, TokenHolder

# Roles that sell only inside a cashier session open at the station (their cash drawer).
SESSION_ROLES = frozenset({OperatorRole.CASHIER})

bearer = HTTPBearer(
    auto_error=False,
    description="API token of an operator (`rig billing token create` or POST /tokens)",
)


def get_centre(request: Request) -> BillingCentre:
    centre: BillingCentre = request.app.state.centre
    return centre


Centre = Annotated[BillingCentre, Depends(get_centre)]


def current_token(
    centre: Centre,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> TokenHolder:
    """The live token of the request: its operator and the stations it may sell at."""
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED,
                            "missing bearer token: send 'Authorization: Bearer <token>'",
                            headers=challenge)
    holder = centre.token_holder(credentials.credentials)
    if holder is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED,
                            "the bearer token is unknown or revoked, or has expired",
                            headers=challenge)
    return holder


Token = Annotated[TokenHolder, Depends(current_token)]


def current_operator(holder: Token) -> OperatorInfo:
    return holder.operator


def selling_at(holder: TokenHolder, station: str) -> OperatorInfo:
    """The token's operator, if the token is bound to ``station``: the REST client names the
    station of a sale, and may name only one its token was issued for."""
    if station not in holder.stations:
        bound = ", ".join(holder.stations) or "no station"
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"API token {holder.token_id} of {holder.operator.name!r} may sell at {bound}, "
            f"not at station {station!r}; an administrator issues a token bound to it "
            "(rig billing token create OPERATOR --station CODE)")
    return holder.operator


def require(role: OperatorRole, what: str) -> Callable[[OperatorInfo], OperatorInfo]:
    """Dependency: the authenticated operator, who must hold ``role`` or a higher one."""

    def check(operator: Annotated[OperatorInfo, Depends(current_operator)]) -> OperatorInfo:
        if not may(operator.role, role):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"operator {operator.name!r} is a {operator.role.value}; {what} needs "
                f"{needs_words(role)}",
            )
        return operator

    return check


Cashier = Annotated[OperatorInfo, Depends(current_operator)]


def role(level: OperatorRole, what: str) -> type[OperatorInfo]:
    """``Annotated`` alias for a route parameter: ``op: role(SUPERVISOR, "reversing a vend")``."""
    return Annotated[OperatorInfo, Depends(require(level, what))]  # type: ignore[return-value]
