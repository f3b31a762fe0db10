"""Who am I (any operator); operators, stations, API tokens and audit verification
(administrator)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Request, status

from rig.billing.api.auth import Cashier, Centre, role
from rig.billing.api.schemas import (
    ChainOut,
    IssuedTokenOut,
    OperatorIn,
    OperatorOut,
    StationIn,
    StationOut,
    TokenIn,
    TokenOut,
)
from rig.billing.inputs import ROW_ID_MAX
from rig.billing.types import OperatorRole

router = APIRouter(tags=["administration"])
Operators = role(OperatorRole.ADMINISTRATOR, "managing operators")
Stations = role(OperatorRole.ADMINISTRATOR, "registering stations")
Tokens = role(OperatorRole.ADMINISTRATOR, "managing API tokens")
Auditor = role(OperatorRole.ADMINISTRATOR, "verifying the audit chain")


@router.get("/me", response_model=OperatorOut)
def whoami(op: Cashier) -> OperatorOut:
    return OperatorOut.model_validate(op)


@router.get("/operators", response_model=list[OperatorOut])
def list_operators(centre: Centre, _op: Operators) -> list[OperatorOut]:
    return [OperatorOut.model_validate(o) for o in centre.operators()]


@router.post("/operators", response_model=OperatorOut, status_code=status.HTTP_201_CREATED)
def register_operator(body: OperatorIn, centre: Centre, op: Operators) -> OperatorOut:
    return OperatorOut.model_validate(centre.register_operator(body.name, body.role,
                                                               actor=op.name))


@router.get("/stations", response_model=list[StationOut])
def list_stations(centre: Centre, _op: Cashier) -> list[StationOut]:
    return [StationOut.model_validate(s) for s in centre.stations()]


@router.post("/stations", response_model=StationOut, status_code=status.HTTP_201_CREATED)
def register_station(body: StationIn, centre: Centre, op: Stations) -> StationOut:
    return StationOut.model_validate(centre.register_station(body.code, actor=op.name))


@router.get("/tokens", response_model=list[TokenOut])
def list_tokens(centre: Centre, _op: Tokens) -> list[TokenOut]:
    return [TokenOut.model_validate(t) for t in centre.api_tokens()]


@router.post("/tokens", response_model=IssuedTokenOut, status_code=status.HTTP_201_CREATED)
def create_token(body: TokenIn, centre: Centre, op: Tokens, request: Request) -> IssuedTokenOut:
    """Mint a token for an operator, bound to the stations it may sell at and expiring after
    ``expires_in_s`` (or the server's default lifetime). The secret is in this reply only."""
    lifetime = (timedelta(seconds=body.expires_in_s) if body.expires_in_s is not None
                else request.app.state.token_lifetime)
    issued = centre.create_api_token(
        body.operator, actor=op.name, label=body.label, stations=body.stations,
        expires_at=None if lifetime is None else centre.now() + lifetime)
    return IssuedTokenOut(token=issued.secret, info=TokenOut.model_validate(issued.info))


@router.delete("/tokens/{token_id}", response_model=TokenOut)
def revoke_token(token_id: Annotated[int, Path(ge=1, le=ROW_ID_MAX)], centre: Centre,
                 op: Tokens) -> TokenOut:
    return TokenOut.model_validate(centre.revoke_api_token(token_id, actor=op.name))


@router.get("/audit/verify", response_model=ChainOut)
def verify_audit(centre: Centre, _op: Auditor) -> ChainOut:
    """Recompute the audit hash chain; names the first broken event if there is one."""
    return ChainOut.model_validate(centre.verify_audit_chain())
