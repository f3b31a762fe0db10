"""Customers: search (any operator) and registration (administrator)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from rig.billing.api.auth import Cashier, Centre, role
from rig.billing.api.schemas import CustomerIn, CustomerOut, MeterOut
from rig.billing.types import OperatorRole

router = APIRouter(prefix="/customers", tags=["customers"])
Admin = role(OperatorRole.ADMINISTRATOR, "registering a customer")


@router.get("", response_model=list[CustomerOut])
def search_customers(centre: Centre, _op: Cashier, q: str | None = None,
                     limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[CustomerOut]:
    """Customers whose name, account or address contains ``q``, or whose meter starts with it."""
    return [CustomerOut.model_validate(c) for c in centre.customers(q, limit=limit)]


@router.post("", response_model=CustomerOut, status_code=status.HTTP_201_CREATED)
def register_customer(body: CustomerIn, centre: Centre, op: Admin) -> CustomerOut:
    info = centre.register_customer(body.name, body.account_no, body.address, actor=op.name)
    return CustomerOut.model_validate(info)


@router.get("/{account_no}", response_model=CustomerOut)
def get_customer(account_no: str, centre: Centre, _op: Cashier) -> CustomerOut:
    return CustomerOut.model_validate(centre.customer(account_no))


@router.get("/{account_no}/meters", response_model=list[MeterOut])
def customer_meters(account_no: str, centre: Centre, _op: Cashier) -> list[MeterOut]:
    centre.customer(account_no)  # 404 for an unknown account rather than an empty list
    return [MeterOut.model_validate(x) for x in centre.meters(account_no)]
