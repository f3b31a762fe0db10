"""Request and reply schemas of readbacks and their reconciliation."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, Field, field_validator

from rig.billing import inputs
from rig.billing.api.schemas.fields import (
    Count16,
    CreditUnitName,
    CreditUnits,
    EnergyWh,
    Instant,
    MeterNo,
    _In,
)
from rig.billing.reconcile import _jsonable
from rig.billing.types import Check, ReconciliationResult


class ReadbackIn(_In):
    """A readback as the card brought it back (credit fields in the meter's credit units)."""

    meter_no: MeterNo
    energy_wh: EnergyWh
    remaining: CreditUnits
    overdraft: CreditUnits
    purchase_count: Count16
    last_sequence: Annotated[int, Field(ge=0, le=inputs.SEQUENCE_MAX)]
    cumulative_purchase: CreditUnits
    credit_unit: CreditUnitName
    relay_open: bool
    alarm_active: bool
    alarm_count: Count16
    cutoff_count: Count16
    tamper_count: Count16
    power_down_count: Count16
    timestamp: Instant
    tariff_version: Annotated[int, Field(ge=0, le=inputs.TARIFF_VERSION_MAX)]
    # The centre verifies the MAC of raw_hex itself; a client cannot claim it.
    mac_verified: Annotated[bool | None, Field(
        description="not for clients: refused if true (the centre verifies raw_hex itself)")] = None
    card_serial: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    raw_hex: Annotated[str, Field(
        pattern=r"^([0-9a-fA-F]{2})*$", max_length=8192,
        description="the 57-byte ReadbackRecord as on the card, hex; without it the readback "
                    "is stored unverified and confirms nothing")] | None = None

    @field_validator("mac_verified")
    @classmethod
    def _not_claimed(cls, v: bool | None) -> bool | None:
        if v:
            raise ValueError("a client cannot set mac_verified: the centre verifies the MAC of "
                             "raw_hex itself")
        return v


def _scalar(v: Decimal | int | bool | str) -> int | bool | str:
    return str(v) if isinstance(v, Decimal) else v


class CheckOut(BaseModel):
    name: str
    expected: bool | int | str
    actual: bool | int | str
    tolerance: int | str
    passed: bool

    @classmethod
    def of(cls, c: Check) -> CheckOut:
        return cls(name=c.name, expected=_scalar(c.expected), actual=_scalar(c.actual),
                   tolerance=_scalar(c.tolerance), passed=c.passed)


class ReconciliationOut(BaseModel):
    reconciliation_id: int
    readback_id: int
    meter_no: str
    verdict: str
    checks: list[CheckOut]
    failed: list[str]
    evidence: dict[str, Any]
    confirmed_vend_ids: list[int]
    created_at: datetime | None

    @classmethod
    def of(cls, r: ReconciliationResult) -> ReconciliationOut:
        return cls(
            reconciliation_id=r.reconciliation_id, readback_id=r.readback_id,
            meter_no=r.meter_no, verdict=r.verdict.value,
            checks=[CheckOut.of(c) for c in r.checks], failed=[c.name for c in r.failed],
            evidence=_jsonable(r.evidence), confirmed_vend_ids=list(r.confirmed_vend_ids),
            created_at=r.created_at,
        )
