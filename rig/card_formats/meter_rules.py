"""Meter rules a card format's reader keeps the same way whatever its card: the levels a
parameter set gives the wallet, and the alarm levels a vend carries (docs/card-formats.md,
"The meter's rules a reader must keep")."""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from rig.card_formats.interface import MeterWallet

NO_HOARDING_LIMIT = 0xFFFFFFFF  # a hoarding limit of 0 on a card: none (the largest level)


class ParameterSet(Protocol):
    """The credit levels of a parameter card's block or record, in card units."""

    @property
    def alarm1(self) -> int: ...
    @property
    def alarm2(self) -> int: ...
    @property
    def overdraft_limit(self) -> int: ...
    @property
    def hoarding_limit(self) -> int: ...  # 0: none


def parameter_levels(wallet: MeterWallet, block: ParameterSet) -> dict[str, Decimal]:
    """A parameter set's levels in the wallet's unit, for ``thresholds_with`` and
    ``set_thresholds`` (a hoarding limit of 0 = none: the largest level a card can carry)."""
    units = wallet.from_units
    return {"alarm1": units(block.alarm1), "alarm2": units(block.alarm2),
            "overdraft_limit": units(block.overdraft_limit),
            "hoarding_limit": units(block.hoarding_limit or NO_HOARDING_LIMIT)}


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
