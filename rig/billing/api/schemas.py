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
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
)

from rig.billing import inputs
from rig.billing.reconcile import _jsonable
from rig.billing.types import Check, ReconciliationResult


def _money_text(value: Any, places: int = inputs.MONEY_PLACES,
                digits: int = inputs.MONEY_DIGITS, pad: bool = False) -> Any:
    if not isinstance(value, str):
        raise ValueError(
            f"money must be a JSON string such as \"20.00\", got {type(value).__name__} "
            f"{value!r} (JSON numbers are binary floats)")
    try:
        return inputs.parse_money(value, "money", places=places, digits=digits, pad=pad)
    except inputs.InvalidInput as e:
        raise ValueError(e.problem) from None


def _price_text(value: Any) -> Any:
    price = _money_text(value, inputs.PRICE_PLACES, 6)
    try:
        return inputs.check_price(price, "price")
    except inputs.InvalidInput as e:
        raise ValueError(e.problem) from None


def _money_schema(places: int, digits: int, example: str) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "examples": [example],
                           "pattern": rf"^-?[0-9]{{1,{digits}}}(\.[0-9]{{1,{places}}})?$"})


def _checked(rule: Any) -> AfterValidator:
    """A rule of :mod:`rig.billing.inputs` as a pydantic validator (pydantic names the field)."""

    def check(value: Any) -> Any:
        try:
            rule(value)
        except inputs.InvalidInput as e:
            raise ValueError(e.problem) from None
        return value

    return AfterValidator(check)


# Money: ASCII decimal text with at most the currency's 2 places; prices 4 places and what the
# card's tariff record holds; percentages 4 places.
MoneyIn = Annotated[Decimal, BeforeValidator(lambda v: _money_text(v, pad=True)),
                    _money_schema(inputs.MONEY_PLACES, inputs.MONEY_DIGITS, "20.00")]
PriceIn = Annotated[Decimal, BeforeValidator(_price_text),
                    _money_schema(inputs.PRICE_PLACES, 6, "0.1500")]
RateIn = Annotated[Decimal,
                   BeforeValidator(lambda v: _money_text(v, inputs.PRICE_PLACES,
                                                         inputs.RATE_DIGITS)),
                   _money_schema(inputs.PRICE_PLACES, inputs.RATE_DIGITS, "15")]
MeterNo = Annotated[str, Field(pattern=r"^[0-9]{12}$", description=inputs.METER_NO_RULE)]
ProfileName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
                                   description=inputs.PROFILE_NAME_RULE)]
Code = Annotated[str, Field(min_length=1, max_length=32)]
Reason = Annotated[str, Field(min_length=1, max_length=500)]
Instant = Annotated[datetime, _checked(lambda v: inputs.check_instant(v, "time")),
                    Field(description="ISO 8601; between 1970 and 9999 UTC")]
KeyRevision = Annotated[int, Field(ge=0, le=inputs.KEY_REVISION_MAX,
                                   description="the card holds a u8")]
TariffVersion = Annotated[int, Field(ge=1, le=inputs.TARIFF_VERSION_MAX,
                                     description="the card holds a u16")]
CreditUnits = Annotated[int, Field(ge=0, le=inputs.CREDIT_MAX,
                                   description="credit units (cents or Wh); the card holds a u32")]
EnergyWh = Annotated[int, Field(ge=0, le=inputs.ENERGY_MAX, description="Wh (u32)")]
Count16 = Annotated[int, Field(ge=0, le=inputs.COUNT_MAX)]
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
    account_no: Code
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
    code: Code


class StationOut(_Out):
    station_id: int
    code: str


class BlockIn(_In):
    up_to_wh: Annotated[int, Field(gt=0, le=inputs.ENERGY_MAX)] | None
    price_per_kwh: PriceIn


class BandIn(_In):
    name: Annotated[str, Field(min_length=1, max_length=inputs.LABEL_MAX)]
    start_minute: Annotated[int, Field(ge=0, le=1440)]
    end_minute: Annotated[int, Field(ge=0, le=1440)]
    price_per_kwh: PriceIn


class TaxIn(_In):
    name: Annotated[str, _checked(lambda v: inputs.check_label(v, "name")),
                    Field(description=f"1-{inputs.LABEL_MAX} printable characters")]
    rate_percent: RateIn


class TariffIn(_In):
    code: Code
    price_per_kwh: PriceIn
    effective_from: Instant
    version: TariffVersion | None = None
    kind: Literal["flat", "block", "tou"] = "flat"
    blocks: Annotated[list[BlockIn], Field(max_length=16)] = []
    bands: Annotated[list[BandIn], Field(max_length=16)] = []
    utc_offset_minutes: Annotated[int, Field(ge=-inputs.OFFSET_MINUTES_MAX,
                                             le=inputs.OFFSET_MINUTES_MAX)] = 0
    fixed_monthly: MoneyIn = Decimal("0.00")
    taxes: Annotated[list[TaxIn], Field(max_length=8)] = []


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
    meter_no: MeterNo
    customer_account: Code
    profile: ProfileName
    credit_unit: CreditUnitName
    tariff_code: Code
    key_revision: KeyRevision
    commissioning_energy_wh: EnergyWh
    commissioned_at: Instant
    hoarding_limit: Annotated[int, Field(gt=0, le=inputs.CREDIT_MAX,
                                         description="credit units (u32); null: no check")] \
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
    hoarding_limit: Annotated[int, Field(gt=0, le=inputs.CREDIT_MAX,
                                         description="credit units (u32); null removes it")] \
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
    card_type: inputs.CardKind = inputs.CardKind.CUSTOMER


class CardStatusIn(_In):
    status: Literal["active", "lost", "replaced", "blocked"]


class CardOut(_Out):
    card_id: int
    card_serial: str
    meter_no: str
    card_type: str
    status: str


class ParametersIn(_In):
    alarm1: CreditUnits | None = None
    alarm2: CreditUnits | None = None


class ParametersOut(BaseModel):
    meter_no: str
    pending: dict[str, int]


# -- vending ----------------------------------------------------------------------------------


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


# -- tokens and audit -------------------------------------------------------------------------


class TokenIn(_In):
    operator: Name
    label: Annotated[str, Field(max_length=100)] = ""
    stations: Annotated[list[Name], Field(
        max_length=100,
        description="registered stations the token may sell at (none: it may not sell)")] = []
    expires_in_s: Annotated[int | None, Field(
        ge=60, le=10 * 366 * 86400,
        description="lifetime in seconds; omitted: the server's default token lifetime")] = None


class TokenOut(_Out):
    token_id: int
    operator: str
    role: str
    label: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    expires_at: datetime | None
    stations: list[str]


class IssuedTokenOut(BaseModel):
    token: str = Field(description="the bearer secret; shown once, stored only as a hash")
    info: TokenOut


class SessionOpenIn(_In):
    station: Name
    opening_float: MoneyIn = Decimal("0.00")


class SessionCloseIn(_In):
    counted_cash: MoneyIn


class SessionOut(_Out):
    session_id: int
    operator: str
    station: str
    status: str
    opened_at: datetime
    closed_at: datetime | None
    opening_float: MoneyOut
    counted_cash: MoneyOut | None


class ChainOut(_Out):
    """Audit verification: the chain, its checkpoints and the ledger (docs/billing.md)."""

    ok: bool
    events: int
    broken_seq: int | None
    problem: str
    keyed: int = Field(description="events verified with the audit key")
    legacy: int = Field(description="unkeyed (SHA-256) events before the first keyed one")
    checkpoints: int = Field(description="checkpoints in the anchor that the chain holds")
    problems: list[str] = Field(description="every problem: chain, checkpoints, ledger rows")
    notes: list[str] = Field(description="what this verification could not prove")
    totals: dict[str, str] = Field(description="ledger totals re-derived from the events")
