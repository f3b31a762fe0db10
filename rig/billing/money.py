"""Exact money columns: a ``Decimal`` stored as a scaled integer on every backend.

SQLite has no decimal type (a ``NUMERIC`` value becomes a double, which cannot hold 0.1 or
more than ~15 significant digits), so every money, price and rate column is a ``BIGINT`` of
minor units (``scale`` decimal places). That is exact on SQLite and PostgreSQL alike, lets SQL
``SUM`` money without error, and keeps ``CHECK`` constraints numeric. A value with more decimals
than the column holds is refused, never silently rounded.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

BIGINT_MAX = 2**63 - 1


class ScaledDecimal(TypeDecorator[Decimal]):
    """``Decimal`` ↔ ``BIGINT`` of ``10**-scale`` units (e.g. scale 2: cents)."""

    impl = BigInteger
    cache_ok = True

    def __init__(self, scale: int) -> None:
        super().__init__()
        self.scale = scale

    def process_bind_param(self, value: Decimal | int | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        return to_units(value, self.scale)

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], int | None]:
        # process_bind_param without TypeDecorator's layer of calls: a sale binds nine.
        scale = self.scale

        def process(value: Decimal | int | None) -> int | None:
            return None if value is None else to_units(value, scale)

        return process

    def process_result_value(self, value: int | None, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return from_units(int(value), self.scale)

    def copy(self, **kw: object) -> ScaledDecimal:
        return ScaledDecimal(self.scale)


def to_units(value: Decimal | int, scale: int) -> int:
    """Exact integer count of ``10**-scale`` units; refuses floats and excess precision."""
    if type(value) is not Decimal:  # the common case skips the checks of other types
        if isinstance(value, bool) or not isinstance(value, Decimal | int):
            raise TypeError(f"money must be Decimal or int, got {type(value).__name__} {value!r}")
        value = Decimal(value)
    if not value.is_finite():
        raise ValueError(f"money value {value} is not finite")
    if not value:  # a zero (0E+12) has no leading digit; a sale binds several (no tax, debt)
        return 0
    # adjusted(): the power of ten of the leading digit, so 1E+999999 is never scaled or int()
    # and 1E-999999 never underflows to 0 when scaled
    leading = value.adjusted()
    if leading + scale > 18:
        raise ValueError(f"money value {value} does not fit a 64-bit column at scale {scale}")
    if leading < -scale:
        raise ValueError(f"money value {value} has more than {scale} decimal places")
    scaled = value.scaleb(scale)
    units = int(scaled)  # truncates: compared with ``scaled`` next
    if units != scaled:
        raise ValueError(f"money value {value} has more than {scale} decimal places")
    if not -BIGINT_MAX <= units <= BIGINT_MAX:
        raise ValueError(f"money value {value} does not fit a 64-bit column at scale {scale}")
    return units


def from_units(units: int, scale: int) -> Decimal:
    """The ``Decimal`` that ``units`` of ``10**-scale`` stand for, with exactly ``scale`` places."""
    return Decimal(units).scaleb(-scale).quantize(Decimal(1).scaleb(-scale))


MONEY_SCALE = 2  # amounts: cents
PRICE_SCALE = 4  # prices per kWh and percentage rates
EXACT_SCALE = 7  # derived figures such as Wh × price / 1000 (4 + 3 decimals)

Money = ScaledDecimal(MONEY_SCALE)
Price = ScaledDecimal(PRICE_SCALE)
Exact = ScaledDecimal(EXACT_SCALE)
