"""What the console tells a cashier when the billing centre or the card writer says no.

The centre's refusal codes are stable (``VendRefused.reason``); each gets a sentence that says
what happened and what to do. Unknown codes fall back to the centre's own message.
"""

from __future__ import annotations

from rig.billing.centre.errors import VendRefused

REFUSALS: dict[str, str] = {
    "amount_invalid": "That amount cannot be sold: use whole cents (for example 20.50).",
    "amount_not_positive": "The amount must be more than zero.",
    "amount_below_minimum": "The amount is below the smallest sale allowed.",
    "amount_above_maximum": "The amount is above the largest sale allowed.",
    "unknown_meter": "There is no meter with that number. Check the number on the meter.",
    "meter_blocked": "This meter is blocked: no credit can be sold to it. Call a supervisor.",
    "no_active_card": "This meter has no working card (lost or blocked). A supervisor can "
                      "replace the card.",
    "unapplied_purchase": "The customer's last purchase has not reached the meter yet. Ask "
                          "the customer to insert the card in the meter, then read the card "
                          "back here before selling again.",
    "unknown_station": "This vending station is not registered. Call an administrator.",
    "unknown_operator": "Your operator name is not registered. Call an administrator.",
    "no_tariff_in_effect": "The meter's tariff has no price in effect today. Call a "
                           "supervisor.",
    "tariff_unusable": "The meter's tariff cannot price this sale. Call a supervisor.",
    "credit_zero": "The amount is too small: after charges and debt it buys no credit.",
    "request_id_conflict": "This sale was already made with different details. Start the "
                           "sale again.",
    "agent_float_exceeded": "This shop's prepaid float is used up: the sale is refused.",
    "credit_invalid": "Enter the free credit as a positive whole number.",
    "reason_missing": "Give a reason.",
}


def refusal(e: VendRefused) -> str:
    """The sentence for a refused vend, with the centre's detail after it."""
    lead = REFUSALS.get(e.reason)
    return f"{lead} ({e})" if lead else str(e)
