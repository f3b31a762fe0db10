"""Wire types of the REST API (pydantic): what JSON goes in and out, and nothing else.

Money crosses the wire as a decimal *string* both ways ("20.00"): a JSON number is a binary
float in most clients, and a ledger must never see one. Energy, credit and counters are JSON
integers. Outputs are built from the service's dataclasses with ``from_attributes``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
)

from rig.billing.reconcile import _jsonable
from rig.billing.types import Check, ReconciliationResult


def _money_text(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError(
            f"money must be a JSON string such as \"20.00\", got {type(value).__name__} "
            f"{value!r} (JSON numbers are binary floats)")
    return value


MoneyIn = Annotated[
    Decimal,
    BeforeValidator(_money_text),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d+(\.\d+)?$", "examples": ["20.00"]}),
]
MoneyOut = Annotated[Decimal, PlainSerializer(str, return_type=str)]
CreditUnitName = Literal["money_cents", "energy_wh"]
Name = Annotated[str, Field(min_length=1, max_length=100)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ErrorOut(BaseModel):
    """Every error reply: a stable ``error`` kind, the refusal ``reason`` code if any, and a
    ``detail`` sentence naming what failed and why."""

    error: str
    detail: str
    reason: str | None = None


# -- master data --------------------------------------------------------------------------------


class CustomerIn(_In):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    account_no: Annotated[str, Field(min_length=1, max_length=32)]
    address: Annotated[str, Field(max_length=500)] = ""


class CustomerOut(_Out):
    customer_id: int
    name: str
    account_no: str
    address: str


class OperatorIn(_In):
    name: Name
    role: Literal["cashier", "supervisor", "administrator"]


class OperatorOut(_Out):
    operator_id: int
    name: str
    role: str


class StationIn(_In):
    code: Annotated[str, Field(min_length=1, max_length=32)]


class StationOut(_Out):
    station_id: int
    code: str


class BlockIn(_In):
    up_to_wh: int | None
    price_per_kwh: MoneyIn


class BandIn(_In):
    name: str
    start_minute: Annotated[int, Field(ge=0, le=1440)]
    end_minute: Annotated[int, Field(ge=0, le=1440)]
    price_per_kwh: MoneyIn


class TaxIn(_In):
    name: str
    rate_percent: MoneyIn


class TariffIn(_In):
    code: Annotated[str, Field(min_length=1, max_length=32)]
    price_per_kwh: MoneyIn
    effective_from: datetime
    version: int | None = None
    kind: Literal["flat", "block", "tou"] = "flat"
    blocks: list[BlockIn] = []
    bands: list[BandIn] = []
    utc_offset_minutes: int = 0
    fixed_monthly: MoneyIn = Decimal("0.00")
    taxes: list[TaxIn] = []


class BlockOut(_Out):
    up_to_wh: int | None
    price_per_kwh: MoneyOut


class BandOut(_Out):
    name: str
    start_minute: int
    end_minute: int
    price_per_kwh: MoneyOut


class TaxOut(_Out):
    name: str
    rate_percent: MoneyOut


class TariffOut(_Out):
    tariff_id: int
    code: str
    version: int
    price_per_kwh: MoneyOut
    effective_from: datetime
    kind: str
    blocks: list[BlockOut]
    bands: list[BandOut]
    utc_offset_minutes: int
    fixed_monthly: MoneyOut
    taxes: list[TaxOut]


class MeterIn(_In):
    meter_no: Annotated[str, Field(pattern=r"^\d{12}$", description="12 digits")]
    customer_account: str
    profile: Annotated[str, Field(min_length=1, max_length=100)]
    credit_unit: CreditUnitName
    tariff_code: str
    key_revision: Annotated[int, Field(ge=0)]
    commissioning_energy_wh: Annotated[int, Field(ge=0)]
    commissioned_at: datetime
    hoarding_limit: Annotated[int, Field(gt=0, description="credit units; null: no check")] \
        | None = None


class MeterOut(_Out):
    meter_id: int
    meter_no: str
    customer_account: str
    profile: str
    credit_unit: str
    tariff_code: str
    key_revision: int
    commissioning_energy_wh: int
    commissioned_at: datetime
    last_sequence: int
    status: str
    hoarding_limit: int | None


class MeterStatusIn(_In):
    status: Literal["active", "blocked"]


class HoardingLimitIn(_In):
    hoarding_limit: Annotated[int, Field(gt=0, description="credit units; null removes it")] \
        | None


class HoardingOut(_Out):
    """The centre's estimate of the meter's credit against its hoarding limit (credit units):
    latest readback balance + unconfirmed vends; ``room`` is the most that can be vended now."""

    meter_no: str
    limit: int | None
    estimate: int
    room: int | None


class CardIn(_In):
    card_serial: Annotated[str, Field(min_length=1, max_length=64)]
    card_type: str = "customer"


class CardStatusIn(_In):
    status: Literal["active", "lost", "replaced", "blocked"]


class CardOut(_Out):
    card_id: int
    card_serial: str
    meter_no: str
    card_type: str
    status: str


class ParametersIn(_In):
    alarm1: Annotated[int, Field(ge=0)] | None = None
    alarm2: Annotated[int, Field(ge=0)] | None = None


class ParametersOut(BaseModel):
    meter_no: str
    pending: dict[str, int]


# -- vending ----------------------------------------------------------------------------------


class VendIn(_In):
    meter_no: str
    amount: MoneyIn
    request_id: Annotated[str, Field(min_length=1, max_length=64,
                                     description="client id; a retry returns the same vend")]
    station: str


class FreeIssueIn(_In):
    meter_no: str
    credit: Annotated[int, Field(gt=0, description="credit units (cents or Wh)")]
    request_id: Annotated[str, Field(min_length=1, max_length=64)]
    station: str
    reason: Annotated[str, Field(min_length=1)]


class ReverseIn(_In):
    reason: Annotated[str, Field(min_length=1)]


class ReplaceCardIn(_In):
    new_card_serial: Annotated[str, Field(min_length=1, max_length=64)]
    reason: str = "lost"


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


# -- readbacks --------------------------------------------------------------------------------


class ReadbackIn(_In):
    """A readback as the card brought it back (credit fields in the meter's credit units)."""

    meter_no: str
    energy_wh: Annotated[int, Field(ge=0)]
    remaining: Annotated[int, Field(ge=0)]
    overdraft: Annotated[int, Field(ge=0)]
    purchase_count: Annotated[int, Field(ge=0)]
    last_sequence: Annotated[int, Field(ge=0)]
    cumulative_purchase: Annotated[int, Field(ge=0)]
    credit_unit: CreditUnitName
    relay_open: bool
    alarm_active: bool
    alarm_count: Annotated[int, Field(ge=0)]
    cutoff_count: Annotated[int, Field(ge=0)]
    tamper_count: Annotated[int, Field(ge=0)]
    power_down_count: Annotated[int, Field(ge=0)]
    timestamp: datetime
    tariff_version: Annotated[int, Field(ge=0)]
    # The centre verifies the MAC of raw_hex itself; a client cannot claim it.
    mac_verified: Annotated[bool | None, Field(
        description="not for clients: refused if true (the centre verifies raw_hex itself)")] = None
    card_serial: str | None = None
    raw_hex: Annotated[str, Field(
        pattern=r"^([0-9a-fA-F]{2})*$",
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


# -- tokens and audit -------------------------------------------------------------------------


class TokenIn(_In):
    operator: Name
    label: Annotated[str, Field(max_length=100)] = ""


class TokenOut(_Out):
    token_id: int
    operator: str
    role: str
    label: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None


class IssuedTokenOut(BaseModel):
    token: str = Field(description="the bearer secret; shown once, stored only as a hash")
    info: TokenOut


class ChainOut(_Out):
    ok: bool
    events: int
    broken_seq: int | None
    problem: str
