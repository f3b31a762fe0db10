"""The fields every card format's readback record shares, declared once.

A meter writes its registers back to the card for the billing centre; the SLE 4442 readback
block and the esam-cpu return-write record carry the same registers under the same names
(those of the centre's ``ReadbackData``), each with its own byte layout and its own few extra
fields. A format's record subclasses :class:`ReadbackRegisters` and declares only its extras,
keyword-only (``@dataclass(frozen=True, kw_only=True)``), so both records keep one meaning
for every shared name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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
