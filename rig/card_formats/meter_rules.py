"""Meter rules a card format's reader keeps the same way whatever its card: the levels a
parameter set gives the wallet, and the alarm levels a vend carries (docs/card-formats.md,
"The meter's rules a reader must keep")."""

from __future__ import annotations

from decimal import Decimal

from rig.card_formats.interface import MeterWallet

NO_HOARDING_LIMIT = 0xFFFFFFFF  # a hoarding limit of 0 on a card: none (the largest level)


def parameter_levels(wallet: MeterWallet, *, alarm1: int, alarm2: int, overdraft_limit: int,
                     hoarding_limit: int) -> dict[str, Decimal]:
    """A parameter set's levels (card units) in the wallet's unit, for ``thresholds_with``."""
    units = wallet.from_units
    return {"alarm1": units(alarm1), "alarm2": units(alarm2),
            "overdraft_limit": units(overdraft_limit),
            "hoarding_limit": units(hoarding_limit or NO_HOARDING_LIMIT)}


def apply_vend_alarms(wallet: MeterWallet, alarm1: int, alarm2: int,
                      messages: list[str]) -> None:
    """Alarm levels sent with a vend (0 = keep): applied with it, or not at all if the
    meter's rules refuse them — a wrong level must not cost the customer the credit."""
    levels = {name: wallet.from_units(v) for name, v in
              (("alarm1", alarm1), ("alarm2", alarm2)) if v}
    if not levels:
        return
    try:
        wallet.thresholds_with(**levels)
    except ValueError as e:
        messages.append(f"alarm levels of the vend not applied: {e}")
        return
    wallet.set_thresholds(**levels)
    messages.append("alarm levels of the vend applied")
