"""The fields every card format's readback record shares, declared once.

A meter writes its registers back to the card for the billing centre; the SLE 4442 readback
block and the esam-cpu return-write record carry the same registers under the same names
(those of the centre's ``ReadbackData``), each with its own byte layout and its own few extra
fields. A format's record subclasses :class:`ReadbackRegisters` and declares only its extras,
keyword-only (``@dataclass(frozen=True, kw_only=True)``), so both records keep one meaning
for every shared name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

READBACK_MAC_SIZE = 8  # AES-CMAC/8 under the meter's readback MAC key


@dataclass(frozen=True)
class ReadbackRegisters:
    """The meter's registers, the record's write generation, its refusal count and MAC."""

    generation: int  # u16, one more each write (serial-number arithmetic)
    meter_no: str
    relay_open: bool
    alarm_active: bool
    energy_wh: int
    remaining: int
    overdraft: int
    purchase_count: int
    last_sequence: int
    cumulative_purchase: int
    alarm_count: int
    cutoff_count: int
    tamper_count: int
    power_down_count: int
    timestamp: datetime  # UTC, whole seconds
    tariff_version: int
    refusal_count: int = 0  # insertions the meter refused
    mac: bytes = bytes(READBACK_MAC_SIZE)  # the meter's MAC, for the centre


# The shared registers a meter wallet's ``readback_values()`` gives under these same names.
_COUNTED = ("energy_wh", "remaining", "overdraft", "purchase_count", "last_sequence",
            "cumulative_purchase", "alarm_count", "cutoff_count", "tamper_count",
            "power_down_count", "tariff_version")


def registers_now(values: Mapping[str, Any], at: datetime) -> dict[str, Any]:
    """The shared registers of a record written at ``at``, from the wallet's
    ``readback_values(at)``: every format's reader fills them alike and adds its own."""
    return {"relay_open": bool(values["relay_open"]),
            "alarm_active": bool(values["alarm_active"]),
            **{name: values[name] for name in _COUNTED},
            "timestamp": at.replace(microsecond=0)}
