"""The hoarding rule: the centre does not sell credit a meter would refuse to hold.

A prepaid meter refuses a purchase that would take its balance above its hoarding limit, and
the customer would then stand at the meter with a paid card it will not accept. A vending
system therefore refuses the sale first, from what it knows about the meter:

    estimate = balance of the latest readback whose MAC the centre verified — or, for a
               keypad (STS) meter, which has no card to carry a MAC'd one, of its latest
               serial readback, which nothing vouches for: the estimate says so — (remaining −
               overdraft; a meter in overdraft repays it from the next purchase, as the
               meter itself counts it)
             + credit of the vends no readback has confirmed yet (created or written)

No readback yet: the unconfirmed vends alone. Consumption since the readback only lowers the
real balance, so the estimate is an upper bound and the centre never sells what the meter would
refuse. A vend is allowed while ``estimate + credit <= limit`` (exactly at the limit is allowed,
as on the meter). All values are integer credit units (cents or Wh).
"""

from __future__ import annotations

from collections.abc import Iterable

from rig.credit_unit import CreditUnit

UNIT_WORDS = {CreditUnit.MONEY_CENTS.value: "cents", CreditUnit.ENERGY_WH.value: "Wh"}


def estimate(readback_balance: int | None, unconfirmed_credits: Iterable[int]) -> int:
    """Credit the meter holds at most, by the centre's records."""
    return (readback_balance or 0) + sum(unconfirmed_credits)


def room(limit: int | None, estimated: int) -> int | None:
    """The most credit that can be vended now (None: the meter has no limit)."""
    return None if limit is None else max(limit - estimated, 0)


LATEST = "latest readback plus vends not yet confirmed"
# A keypad meter's balance may come from its serial readback, which no MAC protects.
LATEST_SERIAL = ("latest readback — a keypad meter's serial one, not MAC-protected — plus vends "
                 "not yet confirmed")


def refusal(meter_no: str, limit: int | None, estimated: int, credit: int,
            credit_unit: str, basis: str = LATEST) -> str | None:
    """Why a vend of ``credit`` must be refused, or None when it fits under the limit."""
    if limit is None or estimated + credit <= limit:
        return None
    unit = UNIT_WORDS.get(credit_unit, credit_unit)
    return (f"meter {meter_no}: {credit} {unit} of credit would exceed its hoarding limit of "
            f"{limit} {unit} (estimated credit on the meter {estimated} {unit}: {basis}); "
            f"at most {room(limit, estimated)} {unit} can be vended now")
