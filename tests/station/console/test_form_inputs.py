"""The console reads money and whole numbers as the API does (issue 19, section 4): ASCII
digits only, so full-width or Arabic-Indic digits are refused rather than read as a number."""

from __future__ import annotations

from decimal import Decimal

import pytest

from rig.station.console.forms import FormError, money, whole_number


@pytest.mark.parametrize("text", ["２０", "٢٠", "1_000", "5e3", "20.505", "1e999", "-5",
                                  "1234567890"])
def test_money_outside_plain_ascii_decimal_is_refused(text: str) -> None:
    with pytest.raises(FormError, match="not an amount of money"):
        money(text)


@pytest.mark.parametrize("text", ["１２", "²", "٣", "12a", "1" * 13])
def test_whole_numbers_are_ascii_digits(text: str) -> None:
    with pytest.raises(FormError, match="whole number"):
        whole_number(text, "count")


def test_plain_amounts_still_read_exactly() -> None:
    assert money("20") == Decimal("20") and money("20,50") == Decimal("20.50")
    assert whole_number(" 12 ", "count") == 12
