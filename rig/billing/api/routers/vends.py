"""Vends: sell (cashier), confirm the card write, reprint (cashier); reverse and free issue
(supervisor). The vending operator is always the token's operator, never a body field."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from rig.billing.api.auth import SESSION_ROLES, Cashier, Centre, Token, role, selling_at
from rig.billing.api.schemas import (
    FreeIssueIn,
    LimitsOut,
    ReceiptOut,
    ReverseIn,
    VendIn,
    VendOut,
)
from rig.billing.inputs import ROW_ID_MAX
from rig.billing.types import OperatorRole

router = APIRouter(tags=["vends"])
Reverser = role(OperatorRole.SUPERVISOR, "reversing a vend")
FreeIssuer = role(OperatorRole.SUPERVISOR, "a free issue")
VendId = Annotated[int, Path(ge=1, le=ROW_ID_MAX, description="a vend's id")]


@router.get("/vend-limits", response_model=LimitsOut)
def vend_limits(centre: Centre, _op: Cashier) -> LimitsOut:
    """Smallest and largest amount one vend may be (the counter shows them)."""
    return LimitsOut.model_validate(centre.limits)


@router.post("/vends", response_model=VendOut, status_code=status.HTTP_201_CREATED)
def vend(body: VendIn, centre: Centre, token: Token) -> VendOut:
    """Sell credit. Idempotent by ``request_id``: a retry returns the original vend.

    Only at a station the token is bound to (403 otherwise); a cashier also needs a cashier
    session open there (``no_open_session`` otherwise)."""
    op = selling_at(token, body.station)
    result = centre.vend(body.meter_no, body.amount, request_id=body.request_id,
                         station=body.station, operator=op.name,
                         require_session=op.role in SESSION_ROLES)
    return VendOut.model_validate(result)


@router.get("/vends/{vend_id}", response_model=VendOut)
def get_vend(vend_id: VendId, centre: Centre, _op: Cashier) -> VendOut:
    return VendOut.model_validate(centre.vend_by_id(vend_id))


@router.post("/vends/{vend_id}/written", status_code=status.HTTP_204_NO_CONTENT)
def mark_written(vend_id: VendId, centre: Centre, _op: Cashier) -> Response:
    """The card writer wrote and verified the vend's purchase record (repeat-safe)."""
    centre.mark_written(vend_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/vends/{vend_id}/reprint", response_model=ReceiptOut)
def reprint(vend_id: VendId, centre: Centre, op: Cashier) -> ReceiptOut:
    """The receipt again, marked as the n-th reprint (counted and audited)."""
    return ReceiptOut(vend_id=vend_id, text=centre.reprint(vend_id, operator=op.name))


@router.post("/vends/{vend_id}/reversal", response_model=VendOut)
def reverse(vend_id: VendId, body: ReverseIn, centre: Centre, op: Reverser) -> VendOut:
    """Cancel a vend no readback has confirmed; its sequence number stays used."""
    return VendOut.model_validate(centre.reverse_vend(vend_id, operator=op.name,
                                                      reason=body.reason))


@router.post("/free-issues", response_model=VendOut, status_code=status.HTTP_201_CREATED)
def free_issue(body: FreeIssueIn, centre: Centre, op: FreeIssuer, token: Token) -> VendOut:
    """Credit without payment (supervisor), at a station the token is bound to."""
    selling_at(token, body.station)
    result = centre.free_issue(body.meter_no, body.credit, request_id=body.request_id,
                               station=body.station, operator=op.name, reason=body.reason)
    return VendOut.model_validate(result)
