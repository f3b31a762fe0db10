"""The REST API's field types (pydantic): money as decimal text, the ledger's input rules,
and the base models every request and reply schema builds on.

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
)

from rig.billing import inputs


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
