"""The 66-bit STS token: data block, CRC, encryption, class-bit transposition, 20 digits.

IEC 62055-41, 6.1-6.4: a 64-bit data block (bit 63 first) whose low 16 bits are a CRC-16 over
the token class and the other 48 bits; the block is encrypted (class 1 tokens are not), then
the two class bits are transposed into bits 28 and 27 of the encrypted block and the two bits
they replace become bits 65 and 64. The 66-bit number is printed as 20 decimal digits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from rig.sts import ciphers
from rig.sts.errors import StsError, TokenCrcError
from rig.sts.keys import BASE_YEARS, Encryption

DIGITS = 20
TID_BITS = 24
MAX_TOKEN = (1 << 66) - 1

CREDIT = 0  # class 0: TransferCredit
TEST = 1  # class 1: non-meter-specific management (test and display), not encrypted
MANAGEMENT = 2  # class 2: meter-specific management


def _crc_byte(value: int) -> int:
    """Eight shifts of the reflected polynomial A001 over one byte (the table's entries)."""
    for _ in range(8):
        value = (value >> 1) ^ 0xA001 if value & 1 else value >> 1
    return value


_CRC_TABLE = tuple(_crc_byte(v) for v in range(256))


def crc16(data: bytes) -> int:
    """CRC-16 with polynomial x^16 + x^15 + x^2 + 1, reflected, preset to FFFF: a byte at a
    time through a 256-entry table."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ _CRC_TABLE[(crc ^ byte) & 0xFF]
    return crc


def token_crc(token_class: int, fields48: int) -> int:
    """The CRC field of a data block: over the class and the 48 bits above the CRC, taken as a
    56-bit big-endian number; its low byte comes first in the field."""
    crc = crc16(((token_class << 48) | fields48).to_bytes(7, "big"))
    return ((crc & 0xFF) << 8) | (crc >> 8)


def seal(token_class: int, fields48: int) -> int:
    """The 64-bit data block: the 48 field bits with their CRC below them."""
    return (fields48 << 16) | token_crc(token_class, fields48)


def standard_fields(subclass: int, rnd: int, tid: int, value: int) -> int:
    """The common 48-bit layout: subclass (4), random number (4), TID (24), a 16-bit value."""
    _field("subclass", subclass, 4)
    _field("random number", rnd, 4)
    _field("TID", tid, TID_BITS)
    _field("value", value, 16)
    return (subclass << 44) | (rnd << 40) | (tid << 16) | value


def _field(what: str, value: int, bits: int) -> None:
    if not 0 <= value < 1 << bits:
        raise StsError(f"{what} {value}: {bits} bits hold 0 to {(1 << bits) - 1}")


def transpose(token_class: int, encrypted: int) -> int:
    """Insert the class bits at 28 and 27; the bits they replace move to 65 and 64."""
    displaced = (encrypted >> 27) & 0b11
    block = (encrypted & ~(0b11 << 27)) | (token_class << 27)
    return (displaced << 64) | block


def untranspose(number: int) -> tuple[int, int]:
    """(class, encrypted block) of a 66-bit token number."""
    token_class = (number >> 27) & 0b11
    block = number & ((1 << 64) - 1)
    block = (block & ~(0b11 << 27)) | ((number >> 64) << 27)
    return token_class, block


def encode(token_class: int, block: int, key: bytes, encryption: Encryption) -> str:
    """The 20 digits of a token carrying `block`."""
    encrypted = block if token_class == TEST else ciphers.encrypt(encryption, key, block)
    return f"{transpose(token_class, encrypted):0{DIGITS}d}"


def parse_digits(token: str) -> int:
    """The 66-bit number of a typed token; spaces and dashes between groups are allowed."""
    digits = token.replace(" ", "").replace("-", "")
    if len(digits) != DIGITS or not digits.isdigit():
        raise StsError(f"token {token!r}: an STS token is {DIGITS} digits")
    number = int(digits)
    if number > MAX_TOKEN:
        raise StsError(f"token {grouped(digits)}: larger than 66 bits, not an STS token")
    return number


def grouped(digits: str) -> str:
    """The token as printed on a receipt: groups of 4."""
    return " ".join(digits[i:i + 4] for i in range(0, len(digits), 4))


@dataclass(frozen=True)
class Decoded:
    """A token whose CRC checked: its class and its 64-bit data block."""

    token_class: int
    block: int

    @property
    def subclass(self) -> int:
        return self.block >> 60

    @property
    def fields48(self) -> int:
        return self.block >> 16


def decode(token: str, key: bytes, encryption: Encryption) -> Decoded:
    """Decrypt a typed token and check its CRC (TokenCrcError when it does not match)."""
    token_class, encrypted = untranspose(parse_digits(token))
    block = encrypted if token_class == TEST else ciphers.decrypt(encryption, key, encrypted)
    if token_crc(token_class, block >> 16) != block & 0xFFFF:
        raise TokenCrcError(f"token {grouped(f'{parse_digits(token):020d}')}: CRC error "
                            "(a mistyped digit, or a token for another meter or key)")
    return Decoded(token_class, block)


def base_date(base_year: int) -> datetime:
    if base_year not in BASE_YEARS:
        raise StsError(f"base date {base_year}: STS base dates are "
                       f"{', '.join(map(str, BASE_YEARS))}")
    return datetime(base_year, 1, 1, tzinfo=UTC)


def tid_of(issued_at: datetime, base_year: int) -> int:
    """The TID: whole minutes from the base date (UTC) to the moment of issue."""
    if issued_at.tzinfo is None:
        issued_at = issued_at.replace(tzinfo=UTC)
    minutes = (issued_at - base_date(base_year)) // timedelta(minutes=1)
    if not 0 <= minutes < 1 << TID_BITS:
        last = base_date(base_year) + timedelta(minutes=(1 << TID_BITS) - 1)
        raise StsError(f"issued at {issued_at.isoformat()}: outside the TID range of base date "
                       f"{base_year} ({base_year}-01-01 to {last:%Y-%m-%d %H:%M} UTC)")
    return minutes


def issued_at_of(tid: int, base_year: int) -> datetime:
    return base_date(base_year) + timedelta(minutes=tid)
