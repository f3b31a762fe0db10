"""How money, credit, times and receipt labels read to a person at the counter.

One formatter for everything a person reads — the console's pages, the printed receipt, its
reprint and its PDF — so one amount always reads the same way ("CN¥15.50", never "15.5" on
one and "15.50" on the other). Amounts keep every digit they have (a value is never rounded
for display) and are padded to the currency's minor unit. Times are stored in UTC and shown
in the station's time zone: ``--time-zone`` / ``RIG_TIME_ZONE`` (an IANA name such as
``Asia/Shanghai``), else the machine's own zone. Babel knows each currency's symbol and
minor unit; the locale (``RIG_LOCALE``, default ``en``) chooses how symbols are spelled.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.core import Locale, UnknownLocaleError
from babel.numbers import format_currency, format_decimal

from rig.billing.types import VendStatus
from rig.credit_unit import CreditUnit
from rig.errors import BillingError

TIME_ZONE_ENV = "RIG_TIME_ZONE"
LOCALE_ENV = "RIG_LOCALE"
WH_PER_KWH = Decimal(1000)

#: Receipt line codes (``ReceiptLine.label``, stable in the ledger) → what a customer reads.
RECEIPT_LABELS: dict[str, str] = {
    "change_in": "Change from last purchase",
    "debt": "Debt recovery",
    "fixed": "Fixed monthly charge",
    "credit": "Credit",
    "energy": "Energy",
    "tax": "Tax",
    "change_out": "Change kept for next time",
    "free": "Free issue",
}

STATUS_LABELS: dict[str, str] = {
    VendStatus.CREATED.value: "to be written",
    VendStatus.WRITTEN.value: "written to the card",
    VendStatus.CONFIRMED.value: "confirmed by the meter",
    VendStatus.REVERSED.value: "reversed",
}


class DisplaySettingError(BillingError):
    """A time zone or locale setting that does not exist."""


def station_zone(name: str | None = None) -> tzinfo:
    """The station's time zone: ``name``, else ``$RIG_TIME_ZONE``, else the machine's zone."""
    setting = name or os.environ.get(TIME_ZONE_ENV)
    if setting:
        try:
            return ZoneInfo(setting)
        except (ZoneInfoNotFoundError, ValueError):
            source = "--time-zone" if name else TIME_ZONE_ENV
            raise DisplaySettingError(
                f"{source}: {setting!r} is not an IANA time zone (e.g. Asia/Shanghai, "
                "Europe/Berlin, UTC)") from None
    return _machine_zone()


def _machine_zone() -> tzinfo:
    """The zone /etc/localtime points at (what the station's own clock shows), else UTC."""
    try:
        target = Path("/etc/localtime").resolve(strict=True)
        return ZoneInfo(str(target).split("/zoneinfo/", 1)[1])
    except (OSError, IndexError, ZoneInfoNotFoundError, ValueError):
        return UTC


def display_locale(name: str | None = None) -> str:
    """The locale symbols are spelled in: ``name``, else ``$RIG_LOCALE``, else ``en``."""
    setting = name or os.environ.get(LOCALE_ENV) or "en"
    try:
        Locale.parse(setting.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        source = "--locale" if name else LOCALE_ENV
        raise DisplaySettingError(f"{source}: {setting!r} is not a known locale (e.g. en, "
                                  "zh_CN, de_DE)") from None
    return setting.replace("-", "_")


@dataclass(frozen=True)
class Display:
    """Formats for one station: the centre's currency, the station's zone and locale.

    ``currency`` None (a centre nobody has set a currency for) prints plain amounts with two
    decimals, so nothing is claimed that was not configured.
    """

    currency: str | None = None
    zone: tzinfo = field(default=UTC)
    locale: str = "en"

    def money(self, amount: Decimal | int | str | None) -> str:
        if amount is None:
            return ""
        value = Decimal(amount)
        if self.currency is None:
            return format_decimal(value, format="#,##0.00", locale=self.locale,
                                  decimal_quantization=False)
        return format_currency(value, self.currency, locale=self.locale,
                               decimal_quantization=False)

    def credit(self, credit: int, unit: CreditUnit | str) -> str:
        """Card/meter credit in its unit: money credit (cents) as money, energy in kWh."""
        if CreditUnit(unit) is CreditUnit.MONEY_CENTS:
            return self.money(Decimal(credit) / 100)
        kwh = (Decimal(credit) / WH_PER_KWH).quantize(Decimal("0.001"))
        return f"{format_decimal(kwh, format='#,##0.000', locale=self.locale)} kWh"

    def time(self, at: datetime | None, *, seconds: bool = False) -> str:
        """A stored (UTC) time in the station's zone, with the zone's abbreviation."""
        if at is None:
            return ""
        aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
        shown = aware.astimezone(self.zone)
        return shown.strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")

    def clock(self, at: datetime) -> str:
        """Only the hour and minute (a shift opened today), with the zone."""
        aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
        return aware.astimezone(self.zone).strftime("%H:%M %Z")

    @staticmethod
    def label(code: str) -> str:
        """A receipt line's code as a customer reads it (unknown codes unchanged)."""
        return RECEIPT_LABELS.get(code, code)

    @staticmethod
    def status(value: VendStatus | str) -> str:
        return STATUS_LABELS.get(str(value), str(value))
