"""Form input: URL-encoded bodies parsed by hand (no multipart dependency), and money read
from the text the cashier typed — exact ``Decimal``, never through float."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qs

MAX_BODY = 64 * 1024
MONEY_TEXT = re.compile(r"[0-9]{1,9}([.,][0-9]{1,2})?")  # ASCII digits: not "２０" or "٢٠"


class FormError(ValueError):
    """The form was filled in wrongly; the message is shown to the operator as is."""


def parse_body(body: bytes) -> dict[str, str]:
    """``application/x-www-form-urlencoded`` → field → value (first value wins)."""
    if len(body) > MAX_BODY:
        raise FormError("the form is too large")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise FormError("the form was not sent as UTF-8 text") from None
    return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}


def money(text: str, what: str = "amount") -> Decimal:
    """A positive-or-zero amount typed as ``12``, ``12.5`` or ``12,50`` (up to 2 decimals)."""
    cleaned = text.strip().replace(" ", "")
    if not cleaned:
        raise FormError(f"Enter the {what}.")
    if not MONEY_TEXT.fullmatch(cleaned):
        raise FormError(f"“{text.strip()}” is not an amount of money: type it like 20 or "
                        "20.50 (at most two decimals).")
    try:
        return Decimal(cleaned.replace(",", "."))
    except InvalidOperation:  # pragma: no cover - the pattern already excludes it
        raise FormError(f"“{text}” is not an amount of money.") from None


def whole_number(text: str, what: str) -> int:
    cleaned = text.strip()
    if not (cleaned.isascii() and cleaned.isdigit()) or len(cleaned) > 12:
        raise FormError(f"Enter the {what} as a whole number (digits only).")
    return int(cleaned)


def required(form: dict[str, str], name: str, what: str) -> str:
    value = form.get(name, "").strip()
    if not value:
        raise FormError(f"Enter the {what}.")
    return value
