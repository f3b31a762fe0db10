"""STS keypad meters: their identity (administrator to set, anyone to read) and management
tokens, key change sets and the supply group roll-over (supervisor). Credit tokens are sold
by ``POST /vends`` like any sale: the reply's ``token`` holds the 20 digits."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from rig.billing.api.auth import Cashier, Centre, require
from rig.billing.api.schemas import ReadbackIn, ReconciliationOut
from rig.billing.api.schemas.sts import (
    StsIdentityIn,
    StsIdentityOut,
    StsKeyChangeIn,
    StsManagementIn,
    StsTokenOut,
)
from rig.billing.types import OperatorInfo, OperatorRole, ReadbackData

router = APIRouter(tags=["sts"])
AdminSts = Annotated[OperatorInfo, Depends(require(
    OperatorRole.ADMINISTRATOR, "registering a meter's STS identity"))]
Supervisor = Annotated[OperatorInfo, Depends(require(
    OperatorRole.SUPERVISOR, "issuing STS management tokens"))]


def _identity(ident: object) -> StsIdentityOut:
    return StsIdentityOut.model_validate(ident)


@router.put("/meters/{meter_no}/sts", response_model=StsIdentityOut)
def register_sts(meter_no: str, body: StsIdentityIn, centre: Centre,
                 op: AdminSts) -> StsIdentityOut:
    """Give the meter its STS identity: its sales then produce tokens (audited)."""
    return _identity(centre.register_sts_meter(meter_no, body.model_dump(), actor=op.name))


@router.get("/meters/{meter_no}/sts", response_model=StsIdentityOut | None)
def sts_identity(meter_no: str, centre: Centre, _op: Cashier) -> StsIdentityOut | None:
    ident = centre.sts_identity(meter_no)
    return None if ident is None else _identity(ident)


@router.get("/meters/{meter_no}/sts/tokens", response_model=list[StsTokenOut])
def sts_tokens(meter_no: str, centre: Centre, _op: Supervisor) -> list[StsTokenOut]:
    """Every token issued to the meter (a bearer credential for it: supervisors only)."""
    return [StsTokenOut.model_validate(t) for t in centre.sts_tokens(meter_no)]


@router.post("/meters/{meter_no}/sts/tokens", response_model=StsTokenOut, status_code=201)
def sts_management(meter_no: str, body: StsManagementIn, centre: Centre,
                   op: Supervisor) -> StsTokenOut:
    return StsTokenOut.model_validate(
        centre.sts_management_token(meter_no, body.kind, body.value, operator=op.name))


@router.post("/meters/{meter_no}/sts/key-change", response_model=list[StsTokenOut],
             status_code=201)
def sts_key_change(meter_no: str, body: StsKeyChangeIn, centre: Centre,
                   op: Supervisor) -> list[StsTokenOut]:
    """The key change set (2 or 4 tokens, in the order they are typed)."""
    made = centre.sts_key_change(meter_no, operator=op.name, **body.model_dump())
    return [StsTokenOut.model_validate(t) for t in made]


@router.post("/sts/supply-groups/{supply_group}/rollover",
             response_model=dict[str, list[StsTokenOut]], status_code=201)
def sts_rollover(supply_group: str, centre: Centre,
                 op: Supervisor) -> dict[str, list[StsTokenOut]]:
    """Every meter of the group still on an older base date: its roll-over key change set."""
    made = centre.sts_rollover(supply_group, operator=op.name)
    return {no: [StsTokenOut.model_validate(t) for t in ts] for no, ts in made.items()}


@router.post("/sts/readbacks", response_model=ReconciliationOut, status_code=201)
def serial_readback(body: ReadbackIn, station: str, centre: Centre,
                    _op: Cashier) -> ReconciliationOut:
    """A keypad meter's registers as the station read them over its serial port: stored as
    not MAC-protected (no ``raw_hex``: there is no card record) and reconciled with the
    tokens sold to it."""
    fields = body.model_dump(exclude={"card_serial", "raw_hex", "mac_verified"})
    return ReconciliationOut.of(centre.ingest_serial_readback(ReadbackData(**fields),
                                                              station=station))
