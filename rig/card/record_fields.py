"""What every record of rig's card format shares (layouts: docs/card-spec.md): the format
version byte, the field checks that name the record and field in a RecordError, and
:class:`CardRecord`, the fixed-size, MAC-signed record every EF holds.

Every record starts with a format version byte and is big-endian. Records with a MAC end with
an 8-byte truncated AES-CMAC under the meter key over all bytes before the MAC. An EF that was
never written reads as all zeros; `parse_optional()` maps that to ``None`` ("empty") so callers
can tell "nothing written yet" from "garbage on the card" (which raises `RecordError`).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal
from enum import IntEnum
from typing import Any, ClassVar, Self

from rig.card.apdu import MacError, RecordError
from rig.card.keys import MAC_LEN, mac, mac_matches
from rig.credit_unit import CreditUnit

FORMAT_VERSION = 1
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
PRICE_SCALE = Decimal("0.0001")
NO_MAC = bytes(MAC_LEN)

U8, U16, U32 = 0xFF, 0xFFFF, 0xFFFF_FFFF


class CardType(IntEnum):
    USER = 1
    PARAMETER = 2
    CHECK = 3
    CLEAR = 4
    KEY_CHANGE = 5


# The byte that carries a CreditUnit in rig's card format (docs/card-spec.md).
UNIT_CODES = {CreditUnit.MONEY_CENTS: 0, CreditUnit.ENERGY_WH: 1}
_UNIT_OF_CODE = {code: unit for unit, code in UNIT_CODES.items()}


# --- field checks (all raise RecordError naming record and field) ---------------------------


def check_uint(rec: str, name: str, value: Any, limit: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordError(rec, name, f"must be an int, got {type(value).__name__}")
    if not 0 <= value <= limit:
        raise RecordError(rec, name, f"{value} outside 0..{limit}")


def enum_field(rec: str, name: str, value: Any, enum: type[IntEnum]) -> IntEnum:
    try:
        return enum(value)
    except ValueError:
        raise RecordError(rec, name, f"{value!r} is not a valid {enum.__name__}") from None


def credit_unit_field(rec: str, name: str, value: Any) -> CreditUnit:
    """A CreditUnit from itself or its byte on the card."""
    if isinstance(value, CreditUnit):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value in _UNIT_OF_CODE:
        return _UNIT_OF_CODE[value]
    raise RecordError(rec, name, f"{value!r} is not a valid CreditUnit")


def check_meter_no(rec: str, value: Any) -> None:
    if not isinstance(value, str) or len(value) != 12 or not value.isascii() \
            or not value.isdigit():
        raise RecordError(rec, "meter_no", f"must be 12 decimal digits, got {value!r}")


def bcd_decode(rec: str, name: str, raw: bytes) -> str:
    text = raw.hex()
    if not text.isdigit():
        raise RecordError(rec, name, f"BCD {raw.hex().upper()} has a nibble above 9")
    return text


def check_mac(rec: str, value: Any) -> None:
    if not isinstance(value, bytes) or len(value) != MAC_LEN:
        raise RecordError(rec, "mac", f"must be {MAC_LEN} bytes")


def check_header(rec: str, data: Any, size: int) -> bytes:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise RecordError(rec, "data", f"must be bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) != size:
        raise RecordError(rec, "length", f"expected {size} bytes, got {len(data)}")
    if data[0] != FORMAT_VERSION:
        raise RecordError(rec, "format_version", f"unsupported version {data[0]}")
    return data


class CardRecord:
    """Shared behaviour: fixed SIZE, to/from bytes, empty detection, MAC sign/verify."""

    NAME: ClassVar[str]
    SIZE: ClassVar[int]
    HAS_MAC: ClassVar[bool] = True

    def to_bytes(self) -> bytes:  # pragma: no cover - overridden
        raise NotImplementedError

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:  # pragma: no cover - overridden
        raise NotImplementedError

    @classmethod
    def parse_optional(cls, data: bytes) -> Self | None:
        """Decode the first SIZE bytes of an EF; an erased (all-zero) record is ``None``."""
        head = bytes(data[: cls.SIZE])
        if len(head) == cls.SIZE and not any(head):
            return None
        return cls.from_bytes(head)

    def signed_part(self) -> bytes:
        """The bytes the MAC covers: everything before the MAC field."""
        return self.to_bytes()[:-MAC_LEN]

    def sign(self, key: bytes) -> Self:
        """Copy of this record carrying the MAC under ``key`` (the meter key)."""
        return dataclasses.replace(self, mac=mac(key, self.signed_part()))  # type: ignore[type-var]

    def verify(self, key: bytes) -> Self:
        """Return self if the MAC verifies under ``key``, else raise MacError."""
        tag: bytes = self.mac  # type: ignore[attr-defined]
        if not mac_matches(key, self.signed_part(), tag):
            meter = getattr(self, "meter_no", "?")
            raise MacError(f"{self.NAME} for meter {meter}: MAC does not verify")
        return self
