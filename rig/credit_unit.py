"""What one unit of credit counts: the one definition every layer shares.

The ledger stores and serves it by name (``"money_cents"``, ``"energy_wh"``), a card format
writes it as its own code (rig's format: one byte, ``rig.card.records.UNIT_CODES``), and a
meter profile sells in one of them. It sits at the bottom of rig, importing nothing, so the
card layer and the billing centre (which may not know each other) name the same thing.
"""

from __future__ import annotations

from enum import StrEnum


class CreditUnit(StrEnum):
    """What one unit of credit on a card or meter register means."""

    MONEY_CENTS = "money_cents"  # credit counts 0.01 of the currency
    ENERGY_WH = "energy_wh"  # credit counts Wh


# name -> member: a dict lookup where a sale turns a stored name into the unit (calling the
# enum costs several times as much); a member finds itself here too, being a str.
CREDIT_UNITS: dict[str, CreditUnit] = {unit.value: unit for unit in CreditUnit}
