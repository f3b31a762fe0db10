"""What a DL/T 645-2007 data identifier is: its kind of value, length and scale, and the
errors and records its values come as (the table of identifiers is data_ids.py)."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from decimal import Decimal

from rig.errors import ProtocolError
from rig.meter.card_errors import CardErrorCode

NO_TIME = "000000000000"  # a record slot never written


class DataFormatError(ProtocolError, ValueError):
    """A value does not fit a DI's format, or reply bytes are not valid for it."""


@dataclass(frozen=True)
class AbnormalCardRecord:
    """One abnormal card insertion record (03301301..0A, 36 bytes; docs/protocols.md).

    ``at`` is the insertion time as YYMMDDhhmmss (``000000000000`` in a slot never written),
    ``card_serial`` the card's 8-byte serial as 16 hex digits, ``error`` the error information
    word (a `CardErrorCode` value), ``command_header`` the 5-byte header CLA INS P1 P2 P3 of
    the card command that failed and ``response_status`` its SW1 SW2 (both zero when the
    refusal was not a failed command). The rest are the registers at insertion: purchase
    count, remaining credit (money, or kWh on an energy meter) and the forward and reverse
    active energy totals in kWh.
    """

    at: str
    card_serial: str
    error: int
    command_header: bytes = bytes(5)
    response_status: int = 0
    purchase_count: int = 0
    remaining: Decimal = Decimal(0)
    forward_energy: Decimal = Decimal(0)
    reverse_energy: Decimal = Decimal(0)

    @property
    def occurred(self) -> dt.datetime | None:
        """Insertion time (naive, meter clock); None for a slot never written."""
        return None if self.at == NO_TIME else to_datetime(self.at)

    @property
    def reason(self) -> CardErrorCode | None:
        """The error word as a known code; None if it is not one of the table's."""
        try:
            return CardErrorCode(self.error)
        except ValueError:
            return None


Value = Decimal | int | str | AbnormalCardRecord


class UnknownDataId(ProtocolError, KeyError):
    """The DI is not in the registry (or, on the meter side, not supported)."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0]) if self.args else "unknown data identifier"


class Kind(enum.Enum):
    NUMBER = "number"  # BCD, fixed decimals, optional sign bit
    DATE_WEEK = "YYMMDDWW"
    TIME = "hhmmss"
    DATETIME = "YYMMDDhhmmss"
    DIGITS = "NNNNNNNNNNNN"  # address / meter number: 12 BCD digits
    WORD = "status word"  # 16-bit little-endian bit field, not BCD
    TRIP_RECORD = "trip record"  # event record whose first 6 bytes are YYMMDDhhmmss
    DATETIME_MIN = "YYMMDDhhmm"  # purchase dates
    SPAN_RECORD = "start/end record"  # YYMMDDhhmmss start, YYMMDDhhmmss end (0s: not ended)
    CARD_RECORD = "abnormal card record"  # AbnormalCardRecord


@dataclass(frozen=True)
class DataId:
    """Format of one data identifier as the standard's appendix gives it."""

    di: int
    name: str
    kind: Kind
    length: int  # bytes on the wire
    decimals: int = 0
    unit: str = ""
    signed: bool = False

    @property
    def digits(self) -> int:
        return self.length * 2

    @property
    def pattern(self) -> str:
        """Format notation, e.g. ``XXXXXX.XX``."""
        if self.kind is not Kind.NUMBER:
            return self.kind.value
        whole = "X" * (self.digits - self.decimals)
        return whole + ("." + "X" * self.decimals if self.decimals else "")

    def __str__(self) -> str:
        return f"{self.di:08X} {self.name}"


# --- identifiers ------------------------------------------------------------------------------


# The standard's date and time digit notations, as datetime objects.
def to_date(text: str) -> dt.date:
    """``YYMMDD[WW]`` -> date (years 2000-2099, as meters store two digits)."""
    return dt.date(2000 + int(text[0:2]), int(text[2:4]), int(text[4:6]))


def to_time(text: str) -> dt.time:
    """``hhmmss`` -> time."""
    return dt.time(int(text[0:2]), int(text[2:4]), int(text[4:6]))


def to_datetime(text: str) -> dt.datetime:
    """``YYMMDDhhmmss`` -> naive datetime (meters keep local time)."""
    return dt.datetime.combine(to_date(text[:6]), to_time(text[6:12]))
