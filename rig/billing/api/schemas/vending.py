"""Request and reply schemas of selling: vends, free issues, reversals, card replacement,
receipts and the vend limits."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from rig.billing import inputs
from rig.billing.api.schemas.fields import Code, MeterNo, MoneyIn, MoneyOut, Reason, _In, _Out
from rig.billing.api.schemas.master import CardOut


class VendIn(_In):
    meter_no: MeterNo
    amount: MoneyIn
    request_id: Annotated[str, Field(min_length=1, max_length=64,
                                     description="client id; a retry returns the same vend")]
    station: Code


class FreeIssueIn(_In):
    meter_no: MeterNo
    credit: Annotated[int, Field(gt=0, le=inputs.CREDIT_MAX,
                                 description="credit units (cents or Wh); the card holds a u32")]
    request_id: Annotated[str, Field(min_length=1, max_length=64)]
    station: Code
    reason: Reason


class ReverseIn(_In):
    reason: Reason


class ReplaceCardIn(_In):
    new_card_serial: Annotated[str, Field(min_length=1, max_length=64)]
    reason: Annotated[str, Field(min_length=1, max_length=100)] = "lost"


class ReceiptLineOut(_Out):
    label: str
    amount: MoneyOut
    detail: str


class VendOut(_Out):
    vend_id: int
    request_id: str
    meter_no: str
    card_serial: str
    sequence: int
    credit: int
    credit_unit: str
    amount: MoneyOut
    tariff_code: str
    tariff_version: int
    price_per_kwh: MoneyOut
    key_revision: int
    receipt: list[ReceiptLineOut]
    status: str
    station: str
    operator: str
    created_at: datetime
    kind: str
    parameters: dict[str, Any] | None
    reprint_count: int
    tender: str
    token: str | None = None


class ReplaceCardOut(BaseModel):
    card: CardOut
    moved_vends: list[VendOut]


class LimitsOut(_Out):
    """The per-vend amount limits the centre enforces (inclusive)."""

    minimum: MoneyOut
    maximum: MoneyOut


class ReceiptOut(BaseModel):
    vend_id: int
    text: str
