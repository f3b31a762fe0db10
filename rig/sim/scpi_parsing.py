"""SCPI program data as an instrument parses it: header specs with their short and long forms
(SCPI-1999 Vol. 1, 6.2), booleans, decimal numbers with MIN/MAX and unit suffixes (IEEE 488.2
7.7.2-7.7.3), and the handler shapes every command table builds on. Errors are the SCPI error
numbers the standard gives (`ScpiError`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

from rig.sim.emulated_load import ScpiError

#: a command's handler: its argument (None: none sent) → the response, or None
Handler = Callable[[str | None], str | None]


def compile_header(spec: str) -> re.Pattern[str]:
    """``[SOURce:]POWer[:LEVel]`` → regex accepting short/long forms of each node.

    Upper-case letters of a node are its short form; brackets mark optional nodes.
    """
    parts: list[str] = []
    for optional, node in re.findall(r"(\[?):?([*A-Za-z]+)\]?", spec):
        short = "".join(c for c in node if not c.islower())
        alt = re.escape(short) if short == node else f"(?:{re.escape(node)}|{re.escape(short)})"
        sep = "" if node.startswith("*") else ":"
        piece = f"{sep}{alt}"
        parts.append(f"(?:{piece})?" if optional else piece)
    pattern = "".join(parts)
    return re.compile(f"^{pattern}$", re.IGNORECASE)


def parse_bool(arg: str) -> bool:
    token = arg.strip().upper()
    if token in ("ON", "1"):
        return True
    if token in ("OFF", "0"):
        return False
    raise ScpiError(-224, "Illegal parameter value")


#: a decimal numeric program datum (IEEE 488.2 7.7.2) and an optional suffix (7.7.3)
NUMERIC = re.compile(r"([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*([A-Za-z]*)")
#: suffix multipliers (IEEE 488.2 7.7.3.4 table 7-2): M is milli, MA mega
MULTIPLIERS = {"": Decimal(1), "K": Decimal(1000), "M": Decimal("0.001"),
                "U": Decimal("0.000001"), "MA": Decimal(1_000_000)}


def number(arg: str | None, maximum: Decimal, unit: str, minimum: Decimal = Decimal(0)) -> Decimal:
    """A set point: a number, MIN/MAX, or a number with a suffix in `unit` (``1.5KW``).

    A suffix of another unit is -131 (invalid suffix), anything not a number -104.
    """
    if arg is None:
        raise ScpiError(-109, "Missing parameter")
    token = arg.strip().upper()
    if token in ("MIN", "MINIMUM"):
        return minimum
    if token in ("MAX", "MAXIMUM"):
        return maximum
    match = NUMERIC.fullmatch(token)
    if match is None:
        raise ScpiError(-104, "Data type error")
    number, suffix = Decimal(match.group(1)), match.group(2)
    if not suffix:
        return number
    if unit == "OHM" and suffix == "MOHM":  # 7.7.3.4: MOHM is mega-ohm, like MHZ
        return number * MULTIPLIERS["MA"]
    multiplier = MULTIPLIERS.get(suffix[: -len(unit)]) if suffix.endswith(unit) else None
    if multiplier is None:
        raise ScpiError(-131, "Invalid suffix")
    return number * multiplier


def limit_query(minimum: Decimal, maximum: Decimal, current: Callable[[], Decimal]) -> Handler:
    """``POW?`` the set point, ``POW? MIN`` / ``POW? MAX`` the programmable limits."""
    def query(arg: str | None) -> str:
        if arg is None:
            return str(current())
        token = arg.strip().upper()
        if token in ("MIN", "MINIMUM"):
            return str(minimum)
        if token in ("MAX", "MAXIMUM"):
            return str(maximum)
        raise ScpiError(-224, "Illegal parameter value")
    return query


def register_setter(store: Callable[[int], None]) -> Handler:
    """``*ESE n`` / ``*SRE n``: 0-255, a non-integer rounded (IEEE 488.2 10.10, 10.34)."""
    def setter(arg: str | None) -> None:
        value = number(arg, Decimal(255), "")
        if not 0 <= value <= 255:
            raise ScpiError(-222, "Data out of range")
        store(int(value.to_integral_value()))
    return setter


def needs(arg: str | None) -> str:
    if arg is None:
        raise ScpiError(-109, "Missing parameter")
    return arg


def no_arg(action: Callable[[], object]) -> Handler:
    def handler(arg: str | None) -> None:
        if arg is not None:
            raise ScpiError(-108, "Parameter not allowed")
        action()
    return handler
