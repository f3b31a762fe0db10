"""What the billing centre accepts, in one place: card-format ranges, identifiers, money text.

A value the meter's card cannot carry must be refused when it enters the centre (at meter
registration, tariff creation, a parameter change), never discovered when a paid sale cannot be
written. The ranges below are the field widths of the card records (``rig/card/records.py``,
docs/card-spec.md). Identifiers have a fixed alphabet and length, and money is plain ASCII
decimal text, so "２０", "٢٠", "1_000" and "5e3" (all of which ``Decimal`` takes) are refused.
The REST schemas, the CLI and the service share these rules; each error names the field.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

from rig.errors import BillingError

U8, U16, U32 = 0xFF, 0xFFFF, 0xFFFF_FFFF
ROW_ID_MAX = 2**31 - 1  # an INTEGER primary key (int4 on PostgreSQL)

KEY_REVISION_MAX = U8  # CardInfo / PurchaseRecord key_revision: u8
TARIFF_VERSION_MAX = U16  # PurchaseRecord / TariffRecord / ReadbackRecord version: u16
CREDIT_MAX = U32  # purchase credit, alarm levels, hoarding limit (credit units): u32
ENERGY_MAX = U32  # readback energy register (Wh): u32
COUNT_MAX = U16  # readback purchase/alarm/cut-off/tamper/power-down counts: u16
# Purchase sequences: the card holds a u32, the centre's column an INTEGER; a readback can
# never rightly show more than the centre issued, so the smaller bound refuses nothing real.
SEQUENCE_MAX = 2**31 - 1
PRICE_PLACES = 4
PRICE_MAX = Decimal(U32).scaleb(-PRICE_PLACES)  # TariffRecord price: u32 × 0.0001 = 429496.7295
MONEY_PLACES = 2  # the currency's minor unit: amounts are whole cents
MONEY_DIGITS = 12  # integer digits of an amount (a BIGINT of cents holds ~17)
RATE_DIGITS = 3  # a percentage: at most 100
OFFSET_MINUTES_MAX = 14 * 60  # UTC offsets run from -12:00 to +14:00
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)  # a day short of the end: any offset stays in range

METER_NO = re.compile(r"[0-9]{12}")
METER_NO_RULE = "12 ASCII digits 0-9"
PROFILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
PROFILE_NAME_RULE = ("1-64 characters A-Z a-z 0-9 . _ -, starting with a letter or digit "
                     "(a profile name, not a path)")
LABEL_MAX = 32  # a tax's name on a receipt line


class CardKind(StrEnum):
    """Cards the centre issues and tracks. Engineering cards (parameter, clear, key change)
    are written by the vending station for one job and are not sold against."""

    CUSTOMER = "customer"


class InvalidInput(BillingError, ValueError):
    """A value outside what the centre accepts; ``field`` names it."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def _money_pattern(places: int, digits: int) -> re.Pattern[str]:
    return re.compile(rf"-?[0-9]{{1,{digits}}}(\.[0-9]{{1,{places}}})?")


_PATTERNS: dict[tuple[int, int], re.Pattern[str]] = {}
_PLAIN = re.compile(r"-?([0-9]+)(?:\.([0-9]+))?")


def money_rule(places: int = MONEY_PLACES, digits: int = MONEY_DIGITS) -> str:
    return (f"a decimal number in ASCII digits, at most {digits} before the point and "
            f"{places} after it, such as \"20.00\" (no exponent, no _ or other digits)")


def parse_money(text: object, field: str, *, places: int = MONEY_PLACES,
                digits: int = MONEY_DIGITS, pad: bool = False) -> Decimal:
    """``text`` as an exact Decimal if it is plain ASCII decimal text with at most ``places``
    decimals and ``digits`` integer digits (``pad``: given exactly ``places`` decimals, "20" →
    20.00); else :class:`InvalidInput` naming ``field``."""
    if not isinstance(text, str):
        raise InvalidInput(field, f"must be a decimal string, got {type(text).__name__}")
    pattern = _PATTERNS.get((places, digits))
    if pattern is None:
        pattern = _PATTERNS[(places, digits)] = _money_pattern(places, digits)
    if pattern.fullmatch(text) is None:
        shown = _shown(text)
        plain = _PLAIN.fullmatch(text)
        if plain is None:
            raise InvalidInput(field, f"{shown} is not {money_rule(places, digits)}")
        whole, fraction = plain.group(1), plain.group(2) or ""
        if len(fraction) > places:
            cents = " (fractions of a cent)" if places == MONEY_PLACES else ""
            raise InvalidInput(field, f"{shown} has more than {places} decimal places{cents}")
        raise InvalidInput(field, f"{shown} has more than {digits} digits before the point "
                                  f"({len(whole)})")
    value = Decimal(text)
    return value.quantize(Decimal(1).scaleb(-places)) if pad else value  # exact: digits bounded


def parse_price(text: object, field: str) -> Decimal:
    """A price per kWh: 4 decimals, at most what the card's tariff record holds."""
    price = parse_money(text, field, places=PRICE_PLACES, digits=6)
    return check_price(price, field)


def check_price(price: Decimal, field: str) -> Decimal:
    if not price.is_finite() or price.adjusted() > 6 or \
            price != price.quantize(Decimal(1).scaleb(-PRICE_PLACES)):
        raise InvalidInput(field, f"{price} must have at most {PRICE_PLACES} decimals")
    if not 0 < price <= PRICE_MAX:
        raise InvalidInput(field, f"{price} must be above 0 and at most {PRICE_MAX} per kWh "
                                  "(the card's tariff record holds a u32 of 0.0001)")
    return price


def check_int(value: object, field: str, low: int, high: int, why: str = "") -> int:
    """``value`` as an int in ``low..high`` (``why``: what sets the bound, for the message)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(field, f"must be a whole number, got {type(value).__name__}")
    if not low <= value <= high:
        raise InvalidInput(field, f"{value} is outside {low}..{high}{f' ({why})' if why else ''}")
    return value


def check_key_revision(value: object) -> int:
    return check_int(value, "key_revision", 0, KEY_REVISION_MAX, "the card holds a u8")


def check_tariff_version(value: object) -> int:
    return check_int(value, "version", 1, TARIFF_VERSION_MAX, "the card holds a u16")


def check_credit(value: object, field: str, low: int = 0) -> int:
    return check_int(value, field, low, CREDIT_MAX, "credit units: the card holds a u32")


def check_energy(value: object, field: str) -> int:
    return check_int(value, field, 0, ENERGY_MAX, "Wh: the meter's register is a u32")


def check_row_id(value: object, field: str) -> int:
    return check_int(value, field, 1, ROW_ID_MAX)


def check_meter_no(value: object, field: str = "meter_no") -> str:
    if not isinstance(value, str) or METER_NO.fullmatch(value) is None:
        raise InvalidInput(field, f"{_shown(value)} is not {METER_NO_RULE}")
    return value


def check_profile_name(value: object, field: str = "profile") -> str:
    if not isinstance(value, str) or PROFILE_NAME.fullmatch(value) is None:
        raise InvalidInput(field, f"{_shown(value)} is not {PROFILE_NAME_RULE}")
    return value


def check_label(value: object, field: str, limit: int = LABEL_MAX) -> str:
    """Short printable text shown on receipts (a tax name): 1..``limit`` characters."""
    if not isinstance(value, str) or not 1 <= len(value) <= limit or not value.isprintable() \
            or value != value.strip():
        raise InvalidInput(field, f"{_shown(value)} must be 1-{limit} printable characters "
                                  "without leading or trailing spaces")
    return value


def check_card_kind(value: object) -> CardKind:
    allowed = [k.value for k in CardKind]
    if not isinstance(value, str) or value not in allowed:
        raise InvalidInput("card_type", f"{_shown(value)} is not one of: {', '.join(allowed)}")
    return CardKind(value)


def check_instant(value: datetime, field: str) -> datetime:
    """An aware instant between 1970 and 9999 (a naive one is taken as UTC)."""
    if not isinstance(value, datetime):
        raise InvalidInput(field, f"must be a date and time, got {type(value).__name__}")
    try:
        at = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except OverflowError:
        at = None
    if at is None or not EARLIEST <= at <= LATEST:
        raise InvalidInput(field, f"{value.isoformat()} is outside {EARLIEST:%Y-%m-%d} .. "
                                  f"{LATEST:%Y-%m-%d} UTC")
    return value


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 50 else text[:50] + "…"
