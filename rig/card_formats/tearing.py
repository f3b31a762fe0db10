"""What a card-tearing campaign counts and the vends it sells, written once for every campaign.

Each format's own campaign (rig/card_formats/*/tearing.py) and the format-neutral one
(rig/faults/card_tearing.py) pull a card mid-session, let the world recover the way people do,
then judge the case by the same three failures; bench/faults.py prints their figures side by
side, so they must mean the same thing everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from rig.card_formats.interface import MeterWallet, Purchase

NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)  # the bench clock of the format campaigns
C1, C2, C3 = 3000, 2500, 1200  # credit units (0.01 CNY) of vends 1, 2 and 3


@dataclass
class TearingFigures:
    """Cases tried and how many ended with credit lost, applied twice, or not recovered."""

    cases: int = 0
    lost: int = 0  # less credit applied than sold
    duplicated: int = 0  # more credit applied than sold
    unrecovered: int = 0  # the card's records (or a person) could not get past the tear

    def count(self, *, lost: bool, duplicated: bool, unrecovered: bool) -> None:
        """One more case, with what went wrong in it."""
        self.cases += 1
        self.lost += lost
        self.duplicated += duplicated
        self.unrecovered += unrecovered


def tearing_vend(meter_no: str, card_serial: str, sequence: int, credit: int) -> Purchase:
    """Vend ``sequence`` of ``credit`` money units at tariff 0 and key revision 1."""
    return Purchase(meter_no=meter_no, card_serial=card_serial, sequence=sequence,
                    credit=credit, credit_unit="money_cents", tariff_version=0,
                    price_per_kwh=Decimal(0), key_revision=1)


def wallet_credit(wallet: MeterWallet) -> int:
    """The customer's credit in the meter, in card units (remaining less overdraft)."""
    values = wallet.readback_values(NOW)
    return int(values["remaining"]) - int(values["overdraft"])
