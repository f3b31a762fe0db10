"""Command-line values checked the way a person reads them: each refusal is one line that
names the option, what it got and what it accepts (never a Python exception's repr)."""

from __future__ import annotations

import re
from decimal import Decimal

MAX_TIME_SCALE = 1_000_000  # the bench config's own bound (rig.bench.config.BenchConfig)
MAX_POWER_W = 100_000  # the load config's own bound (rig.bench.config.LoadResource)

_MONEY = re.compile(r"[0-9]{1,9}(\.[0-9]{1,2})?")  # ASCII only: no "２０", "1_000" or "5e3"
_NUMBER = re.compile(r"[0-9]{1,9}(\.[0-9]{1,6})?")


class OptionError(ValueError):
    """A command-line value refused; the message is the whole line to show."""


def money(option: str, text: str) -> Decimal:
    """A positive amount of money with at most two decimal places, e.g. 20 or 15.50."""
    if not _MONEY.fullmatch(text) or Decimal(text) == 0:
        raise OptionError(f"{option} {text!r}: not an amount of money; give a positive "
                          "decimal with at most 2 places, such as 20 or 15.50")
    return Decimal(text)


def time_scale(option: str, text: str) -> float:
    """Bench seconds per real second: above 0, at most MAX_TIME_SCALE."""
    value = Decimal(text) if _NUMBER.fullmatch(text) else None
    if value is None or not 0 < value <= MAX_TIME_SCALE:
        raise OptionError(f"{option} {text!r}: give the bench seconds per real second, a number "
                          f"above 0 and at most {MAX_TIME_SCALE} (1 on a real bench)")
    return float(value)


def power_w(option: str, text: str) -> Decimal:
    """A load set point in whole watts: above 0 (at 0 W credit never runs down)."""
    if not re.fullmatch(r"[0-9]{1,6}", text) or not 0 < int(text) <= MAX_POWER_W:
        raise OptionError(f"{option} {text!r}: give the load's power in whole watts, above 0 "
                          f"and at most {MAX_POWER_W} (at 0 W the credit never runs down "
                          "and the cycle could never reach its alarm)")
    return Decimal(text)
