"""What the load's SCPI text means (IEEE 488.2): numbers as a command writes them, the
``*IDN?`` fields, a reading, error-queue replies and the standard event status bits the driver
(:mod:`rig.load.driver`) checks after every setting command."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

#: Upper bound on error-queue entries read in one drain (a broken instrument may never say 0).
MAX_ERROR_DRAIN = 32

#: IEEE 488.2 standard event status register bits (11.5.1.1)
ESR_BITS = {0: "operation complete", 1: "request control", 2: "query error",
            3: "device-dependent error", 4: "execution error", 5: "command error",
            6: "user request", 7: "power on"}
#: the bits that mean a command failed: QYE, DDE, EXE, CME
ESR_ERRORS = 0b0011_1100


@dataclass(frozen=True)
class Identity:
    """The four fields of an IEEE 488.2 ``*IDN?`` reply."""

    maker: str
    model: str
    serial: str
    firmware: str

    @classmethod
    def parse(cls, idn: str) -> Identity:
        parts = [p.strip() for p in idn.strip().split(",")]
        parts += [""] * (4 - len(parts))
        return cls(parts[0], parts[1], parts[2], ",".join(parts[3:]))


@dataclass(frozen=True)
class Measurement:
    """One reading of the load: RMS volts, amps and watts at its input."""

    voltage: Decimal
    current: Decimal
    power: Decimal


def format_number(value: Decimal | int | str) -> str:
    """Plain positional decimal text for SCPI: no float repr noise, no exponent."""
    if isinstance(value, float):
        raise TypeError("pass a Decimal (or int/str), not float: floats carry repr noise")
    number = value if isinstance(value, Decimal) else Decimal(value)
    if not number.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return format(number, "f")


def parse_error(reply: str) -> tuple[int, str]:
    """``-222,"Data out of range"`` → ``(-222, "Data out of range")``."""
    code_text, _, message = reply.strip().partition(",")
    code = int(code_text)
    message = message.strip()
    if len(message) >= 2 and message[0] == message[-1] == '"':
        message = message[1:-1].replace('""', '"')
    return code, message
