"""Bearer-token authentication and role checks of the REST API.

A request carries ``Authorization: Bearer <token>``; the token names one operator (tokens are
created by an administrator and stored hashed, see :mod:`rig.billing.tokens`). Roles are
ordered cashier < supervisor < administrator and each route states the least role it needs.
The service checks the roles it knows about itself as well; this layer adds the ones that
belong to the API's surface (who may touch master data, tokens and the audit report).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from rig.billing.service import BillingCentre
from rig.billing.types import OperatorInfo, OperatorRole

RANK = {OperatorRole.CASHIER: 0, OperatorRole.SUPERVISOR: 1, OperatorRole.ADMINISTRATOR: 2}

bearer = HTTPBearer(
    auto_error=False,
    description="API token of an operator (`rig billing token create` or POST /tokens)",
)


def get_centre(request: Request) -> BillingCentre:
    centre: BillingCentre = request.app.state.centre
    return centre


Centre = Annotated[BillingCentre, Depends(get_centre)]


def current_operator(
    centre: Centre,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> OperatorInfo:
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED,
                            "missing bearer token: send 'Authorization: Bearer <token>'",
                            headers=challenge)
    operator = centre.operator_for_token(credentials.credentials)
    if operator is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED,
                            "the bearer token is unknown or revoked", headers=challenge)
    return operator


def require(role: OperatorRole, what: str) -> Callable[[OperatorInfo], OperatorInfo]:
    """Dependency: the authenticated operator, who must hold ``role`` or a higher one."""

    def check(operator: Annotated[OperatorInfo, Depends(current_operator)]) -> OperatorInfo:
        if RANK[operator.role] < RANK[role]:
            needed = "an administrator" if role is OperatorRole.ADMINISTRATOR else (
                f"a {role.value} or an administrator")
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"operator {operator.name!r} is a {operator.role.value}; {what} needs {needed}",
            )
        return operator

    return check


Cashier = Annotated[OperatorInfo, Depends(current_operator)]


def role(level: OperatorRole, what: str) -> type[OperatorInfo]:
    """``Annotated`` alias for a route parameter: ``op: role(SUPERVISOR, "reversing a vend")``."""
    return Annotated[OperatorInfo, Depends(require(level, what))]  # type: ignore[return-value]
