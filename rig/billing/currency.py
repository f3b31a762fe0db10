"""The currency the whole centre bills in (ISO 4217), kept in the database with the ledger.

One centre keeps one ledger, and its sums (sales, cash-ups, bank payments, debts) add amounts
without converting, so the currency is the centre's, not a station's or a profile's. It is set
once (``rig billing bank currency CNY``), audited, and read by whatever must not assume one:
the bank import refuses a statement in another currency, the SEPA export refuses to run unless
the centre bills in EUR. It cannot change once bank payments are booked in it.
"""

from __future__ import annotations

import re

from sqlalchemy import func, select

from rig.billing import models as m
from rig.billing.centre import BillingCentre, Conflict
from rig.billing.display import Display, display_locale, station_zone
from rig.errors import BillingError

SETTING = "currency"
ISO_4217 = re.compile(r"[A-Z]{3}")


class CurrencyNotSet(BillingError):
    """The centre's currency was never configured."""


def centre_currency(centre: BillingCentre) -> str | None:
    """The ISO 4217 code the centre bills in, or None if nobody has set it yet."""
    with centre.transaction("centre_currency") as s:
        return s.scalar(select(m.CentreSetting.value).where(m.CentreSetting.name == SETTING))


def require_currency(centre: BillingCentre, needed_for: str) -> str:
    """The centre's currency; if it is not set, an error saying how to set it."""
    code = centre_currency(centre)
    if code is None:
        raise CurrencyNotSet(
            f"{needed_for} needs the centre's currency, which is not set: set it once with "
            "`rig billing bank currency CODE` (ISO 4217, e.g. CNY as the shipped meter "
            "profiles sell, or EUR)")
    return code


def set_centre_currency(centre: BillingCentre, code: str, *, actor: str = "system") -> str:
    """Configure the centre's currency (an administrator, or the system at set-up)."""
    norm = code.strip().upper()
    if not ISO_4217.fullmatch(norm):
        raise BillingError(f"currency {code!r} is not an ISO 4217 code (three letters, e.g. "
                           "CNY, EUR)")
    with centre.transaction("set_centre_currency") as s:
        if actor != "system":
            centre.access.require_administrator(s, actor, "set the centre's currency")
        row = s.get(m.CentreSetting, SETTING)
        before = row.value if row is not None else None
        if before == norm:
            return norm
        booked = s.scalar(select(func.count()).select_from(m.BankPayment)
                          .where(m.BankPayment.currency != norm))
        if before is not None and booked:
            raise Conflict(f"the centre bills in {before} and {booked} bank payment(s) are "
                           f"booked in it; it cannot change to {norm}")
        if row is None:
            s.add(m.CentreSetting(name=SETTING, value=norm))
        else:
            row.value = norm
        centre.uow.audit(s, actor, "centre.currency", "centre_setting", SETTING,
                         {"currency": before} if before else None, {"currency": norm})
        return norm


def centre_display(centre: BillingCentre, *, time_zone: str | None = None,
                   locale: str | None = None) -> Display:
    """How this station shows the centre's money and times (see :mod:`rig.billing.display`)."""
    return Display(centre_currency(centre), station_zone(time_zone), display_locale(locale))
