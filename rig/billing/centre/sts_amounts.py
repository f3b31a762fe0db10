"""What an STS token can carry for a sale: whole 0.1 kWh steps of an electricity token, whole
cents of a money meter's currency token (IEC 62055-41 class 0; docs/sts.md), each rounded down
to a count the token's amount field expresses, so a sale never charges more than it delivers.
"""

from __future__ import annotations

from decimal import Decimal

from rig.billing.types import CreditUnit
from rig.errors import BillingError
from rig.sts import amount as amount_field
from rig.sts.identity import StsSection

WH_PER_STEP = 100  # an electricity credit token counts 0.1 kWh steps (IEC 62055-41)
CURRENCY_SUBCLASS = 4  # class 0 subclass 4: electricity currency (IEC 62055-41, docs/sts.md)


def carried_wh(credit_wh: int) -> int:
    """The most energy (Wh) an electricity token can carry without exceeding ``credit_wh``:
    whole 0.1 kWh steps, rounded down to what the 14-bit mantissa can express."""
    return carried(credit_wh, WH_PER_STEP)


def carried(credit: int, per_step: int) -> int:
    """The most credit (card units: Wh or cents) a token whose one step is ``per_step`` units
    can carry without exceeding ``credit``: rounded down to a count the mantissa expresses."""
    return amount_field.carried_at_most(credit // per_step) * per_step


def check_currency_step(meter_no: str, credit_unit: str, ident: StsSection) -> None:
    """A money meter keeps whole cents: its currency token step must be a whole number of
    them (BillingError naming ``currency_step`` otherwise). Checked before anything is
    registered, by every desk that registers one."""
    if credit_unit == CreditUnit.MONEY_CENTS.value and \
            cents_per_step(ident.currency_step) is None:
        raise BillingError(
            f"STS identity: currency_step: meter {meter_no} keeps money credit in "
            f"whole cents and a currency token step of {ident.currency_step} "
            "carries whole cents only below 0.16384 (docs/sts.md); register the "
            "step the meter's maker gives (0.01: one step is a cent)")


def cents_per_step(currency_step: Decimal) -> int | None:
    """One step of a currency token in whole cents, or None when it is not whole cents (the
    meter's register keeps cents, so every amount the token carries must be whole cents)."""
    cents = currency_step * 100
    return int(cents) if cents == cents.to_integral_value() and cents >= 1 else None
