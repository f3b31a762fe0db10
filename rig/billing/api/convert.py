"""The one place where the API's wire types and the centre's plain types meet.

The dataclasses of :mod:`rig.billing.types` are the source of every entity: the server builds
a reply schema from one with ``from_attributes``, and a client turns the schema it parsed back
into the same dataclass with :func:`to_plain`, field by field by name. :data:`REPLIES` pairs
each reply schema with its dataclass; ``tests/billing/test_protocol.py`` fails when a field
exists on one side only.
"""

from __future__ import annotations

import dataclasses
import types
from enum import Enum
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

from pydantic import BaseModel

from rig.billing.api import schemas as s
from rig.billing.api.schemas.sts import StsTokenOut
from rig.billing.types import (
    Band,
    Block,
    CardInfo,
    CashierSessionInfo,
    Check,
    CustomerInfo,
    HoardingCheck,
    MeterInfo,
    OperatorInfo,
    ReceiptLine,
    ReconciliationResult,
    StationInfo,
    StsTokenInfo,
    TariffInfo,
    Tax,
    VendLimits,
    VendResult,
)

T = TypeVar("T")

# reply schema → the dataclass it carries; (extra fields the schema derives, e.g. ``failed``)
REPLIES: dict[type[BaseModel], tuple[type[Any], frozenset[str]]] = {
    s.CustomerOut: (CustomerInfo, frozenset()),
    s.OperatorOut: (OperatorInfo, frozenset()),
    s.StationOut: (StationInfo, frozenset()),
    s.BlockOut: (Block, frozenset()),
    s.BandOut: (Band, frozenset()),
    s.TaxOut: (Tax, frozenset()),
    s.TariffOut: (TariffInfo, frozenset()),
    s.MeterOut: (MeterInfo, frozenset()),
    s.HoardingOut: (HoardingCheck, frozenset()),
    s.CardOut: (CardInfo, frozenset()),
    s.ReceiptLineOut: (ReceiptLine, frozenset()),
    s.VendOut: (VendResult, frozenset()),
    s.LimitsOut: (VendLimits, frozenset()),
    s.CheckOut: (Check, frozenset()),
    s.ReconciliationOut: (ReconciliationResult, frozenset({"failed"})),
    s.SessionOut: (CashierSessionInfo, frozenset()),
    StsTokenOut: (StsTokenInfo, frozenset()),
}


def parse(body: Any, schema: type[BaseModel], plain: type[T]) -> T:
    """A reply body, validated by its schema, as the centre's dataclass."""
    return to_plain(schema.model_validate(body), plain)


def to_plain(model: BaseModel, plain: type[T]) -> T:
    """``model``'s fields as the dataclass ``plain`` (nested schemas, enums and tuples too)."""
    hints = get_type_hints(plain)
    values = {f.name: _value(getattr(model, f.name), hints[f.name])
              for f in dataclasses.fields(plain)  # type: ignore[arg-type]
              if f.name in type(model).model_fields}
    return plain(**values)


def _value(value: Any, hint: Any) -> Any:
    if value is None:
        return None
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(hint) if a is not type(None)]
        return _value(value, options[0]) if len(options) == 1 else value
    if origin is tuple:
        return tuple(_value(v, get_args(hint)[0]) for v in value)
    if isinstance(value, BaseModel):
        return to_plain(value, hint)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(value)
    return value
