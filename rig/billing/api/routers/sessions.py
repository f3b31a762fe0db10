"""Cashier sessions over the API: a counter client opens its operator's shift at a station its
token is bound to, sells in it, and closes it with the cash counted (the cash-up)."""

from __future__ import annotations

from fastapi import APIRouter, status

from rig.billing.api.auth import Cashier, Centre, Token, selling_at
from rig.billing.api.schemas import SessionCloseIn, SessionOpenIn, SessionOut

router = APIRouter(tags=["cashier sessions"])


@router.post("/sessions", response_model=SessionOut, status_code=status.HTTP_201_CREATED)
def open_session(body: SessionOpenIn, centre: Centre, token: Token) -> SessionOut:
    """Open the token's operator's session at ``station`` with the float counted into the
    drawer; 409 if the operator already has one open."""
    op = selling_at(token, body.station)
    return SessionOut.model_validate(centre.open_session(op.name, body.station,
                                                         body.opening_float))


@router.get("/sessions/current", response_model=SessionOut | None)
def current_session(centre: Centre, op: Cashier) -> SessionOut | None:
    """The operator's open session, or null."""
    info = centre.open_session_of(op.name)
    return None if info is None else SessionOut.model_validate(info)


@router.post("/sessions/{session_id}/close", response_model=SessionOut)
def close_session(session_id: int, body: SessionCloseIn, centre: Centre,
                  op: Cashier) -> SessionOut:
    """Close a session with the cash counted (a cashier only their own)."""
    return SessionOut.model_validate(centre.close_session(session_id, operator=op.name,
                                                          counted_cash=body.counted_cash))
