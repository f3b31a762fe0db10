"""How much the prepaid cycle buys: enough that the meter starts above alarm 1, so the run sees
alarm 1, then alarm 2, then the cut-off, each in its turn (a purchase at or below an alarm
level raises it at once and nothing warns before it)."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from rig.profile import CreditKind, MeterProfile

BASE_PURCHASE = Decimal("20.00")  # what a customer typically pays; raised when it is too little
HEADROOM = 2  # the purchase buys at least twice alarm 1's credit


def credit_bought(profile: MeterProfile, amount: Decimal, price_per_kwh: Decimal) -> Decimal:
    """Credit on the meter for `amount` paid: money, or kWh at the cycle's price."""
    if profile.credit.unit is CreditKind.MONEY:
        return amount
    return amount / price_per_kwh


def suitable_purchase(profile: MeterProfile, price_per_kwh: Decimal) -> Decimal:
    """BASE_PURCHASE, or the smallest whole amount buying HEADROOM x alarm 1 if that is more."""
    need = profile.thresholds.alarm1 * HEADROOM
    if profile.credit.unit is CreditKind.ENERGY:
        need *= price_per_kwh
    return max(BASE_PURCHASE, need.to_integral_value(ROUND_CEILING).quantize(Decimal("0.01")))


def purchase_warning(profile: MeterProfile, amount: Decimal,
                     price_per_kwh: Decimal) -> str | None:
    """Why a chosen purchase will not show the alarms in turn, or None if it will."""
    credit = credit_bought(profile, amount, price_per_kwh)
    t, unit = profile.thresholds, profile.credit.currency if \
        profile.credit.unit is CreditKind.MONEY else "kWh"
    if credit > t.hoarding_limit:
        return (f"a purchase of {amount} buys more than the hoarding limit "
                f"({t.hoarding_limit} {unit}): the meter will refuse the card")
    if credit <= t.alarm2:
        return (f"a purchase of {amount} is at or below alarm 2 ({t.alarm2} {unit}): both "
                "alarms fire at once and nothing warns before the cut-off")
    if credit <= t.alarm1:
        return (f"a purchase of {amount} is at or below alarm 1 ({t.alarm1} {unit}): alarm 1 "
                "fires as soon as the credit is loaded")
    return None
