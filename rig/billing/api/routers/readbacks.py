"""Readback upload (cashier: the card comes back over the counter) and the supervisor's
reconciliation exception queue."""

from __future__ import annotations

from fastapi import APIRouter, status

from rig.billing.api.auth import Cashier, Centre, role
from rig.billing.api.schemas import ReadbackIn, ReconciliationOut
from rig.billing.types import OperatorRole, ReadbackData

router = APIRouter(tags=["readbacks"])
Supervisor = role(OperatorRole.SUPERVISOR, "reading reconciliation exceptions")


@router.post("/readbacks", response_model=ReconciliationOut, status_code=status.HTTP_201_CREATED)
def upload_readback(body: ReadbackIn, centre: Centre, _op: Cashier) -> ReconciliationOut:
    """Store a readback, confirm the vends it shows applied and reconcile the meter.

    The centre decodes ``raw_hex`` and verifies its MAC itself; the fields must agree with it.
    Without a raw record, or with one whose MAC does not verify, the readback is stored as
    unverified: it confirms no vend and its reconciliation is a mismatch. A mismatch is stored
    and returned with its evidence (201 either way: it was stored).
    """
    fields = body.model_dump(exclude={"card_serial", "raw_hex", "mac_verified"})
    raw = bytes.fromhex(body.raw_hex) if body.raw_hex is not None else None
    result = centre.ingest_readback(ReadbackData(**fields), card_serial=body.card_serial, raw=raw)
    return ReconciliationOut.of(result)


@router.get("/reconciliation-exceptions", response_model=list[ReconciliationOut])
def reconciliation_exceptions(centre: Centre, _op: Supervisor) -> list[ReconciliationOut]:
    return [ReconciliationOut.of(r) for r in centre.reconciliation_exceptions()]
