"""Request and reply schemas of the registry and tariffs: customers, operators, stations,
tariffs, meters, cards and queued parameters."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from rig.billing import inputs
from rig.billing.api.schemas.fields import (
    Code,
    CreditUnitName,
    CreditUnits,
    EnergyWh,
    Instant,
    KeyRevision,
    MeterNo,
    MoneyIn,
    MoneyOut,
    Name,
    PriceIn,
    ProfileName,
    RateIn,
    TariffVersion,
    _checked,
    _In,
    _Out,
)
from rig.billing.api.schemas.sts import StsIdentityIn


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
    blocks: Annotated[list[BlockIn], Field(max_length=16)] = []  # noqa: RUF012 (pydantic copies it)
    bands: Annotated[list[BandIn], Field(max_length=16)] = []  # noqa: RUF012 (pydantic copies it)
    utc_offset_minutes: Annotated[int, Field(ge=-inputs.OFFSET_MINUTES_MAX,
                                             le=inputs.OFFSET_MINUTES_MAX)] = 0
    fixed_monthly: MoneyIn = Decimal("0.00")
    taxes: Annotated[list[TaxIn], Field(max_length=8)] = []  # noqa: RUF012 (pydantic copies it)


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
    sts: StsIdentityIn | None = Field(
        default=None, description="a keypad meter's STS identity, registered with the meter "
        "in one transaction (a refused identity registers neither)")


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
    basis: str = ""  # what the estimate rests on (a serial readback: not MAC-protected)


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
