"""Pricing: turn a payment into card credit plus a receipt breakdown.

Kept free of the database so that block rates, time-of-use, taxes and debt recovery can be
added as further components of :class:`Pricing` without touching the vend service. Today the
only rate is flat: every function here is exact ``Decimal`` arithmetic with explicit flooring,
so the customer is never credited more than was paid for.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

from rig.billing.types import CreditUnit, Pricing, ReceiptLine, TariffInfo

CENT = Decimal("0.01")
WH_PER_KWH = 1000


def price_vend(amount: Decimal, tariff: TariffInfo, credit_unit: CreditUnit | str) -> Pricing:
    """Price a payment of ``amount`` (currency) on a flat ``tariff``.

    Money meters get ``floor(amount, 0.01)`` as cents; the meter applies the tariff itself.
    Energy meters get ``floor(amount / price * 1000)`` Wh and the sub-Wh remainder is shown as
    a rounding line. The receipt lines always sum to ``amount``.
    """
    if not isinstance(amount, Decimal):
        raise TypeError(f"amount must be Decimal, got {type(amount).__name__}")
    unit = CreditUnit(credit_unit)
    price = tariff.price_per_kwh
    if price <= 0:
        raise ValueError(f"tariff {tariff.code} v{tariff.version} has non-positive price {price}")
    if unit is CreditUnit.MONEY_CENTS:
        credited = amount.quantize(CENT, rounding=ROUND_FLOOR)
        credit = int(credited / CENT)
        lines = [ReceiptLine("credit", credited, f"{credited} money credit")]
        energy_value = credited
    else:
        credit = int((amount * WH_PER_KWH) // price)  # both positive: // is floor, exact
        energy_value = Decimal(credit) * price / WH_PER_KWH
        lines = [
            ReceiptLine(
                "energy",
                energy_value,
                f"{energy_kwh(credit)} kWh @ {price}/kWh (tariff {tariff.code} v{tariff.version})",
            )
        ]
    rest = amount - energy_value
    if rest:
        lines.append(ReceiptLine("rounding", rest, "below one credit unit, not credited"))
    return Pricing(credit=credit, components=tuple(lines))


def energy_kwh(wh: int) -> Decimal:
    """Wh as exact kWh for display."""
    return Decimal(wh) / WH_PER_KWH


def energy_cost(wh: int, price_per_kwh: Decimal) -> Decimal:
    """Exact money value of ``wh`` at a flat price (no rounding)."""
    return Decimal(wh) * price_per_kwh / WH_PER_KWH
