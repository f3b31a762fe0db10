"""Decoder keys: DKGA02 (DES) and DKGA04 (HMAC-SHA-256) from a vending key and a meter identity.

A decoder key is returned most significant byte first, the order in which the standard feeds
it to the cipher (IEC 62055-41, 6.5.3); some implementations store it byte-reversed. The
vending key is an argument only: nothing here logs, stores or prints it.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from rig.sts.des import des
from rig.sts.encryption import Encryption
from rig.sts.errors import StsError

# Base dates of the token identifier (TID): 1993 (the original), 2014 and 2035 (2018 edition).
BASE_YEARS = (1993, 2014, 2035)


@dataclass(frozen=True)
class MeterIdentity:
    """What a decoder key is derived from: the meter's PAN and its key attributes."""

    pan: str  # MeterPAN: 18 digits (IIN + IAIN/DRN + check digit)
    supply_group: str  # SGC, 6 digits
    tariff_index: str  # TI, 2 digits
    key_revision: int  # KRN, 1-9
    key_type: int  # KT, 0-3

    def __post_init__(self) -> None:
        _digits("--pan", self.pan, 18)
        _digits("--supply-group", self.supply_group, 6)
        _digits("--tariff-index", self.tariff_index, 2)
        if not 1 <= self.key_revision <= 9:
            raise StsError(f"--key-revision {self.key_revision}: the KRN is 1 to 9")
        if not 0 <= self.key_type <= 3:
            raise StsError(f"--key-type {self.key_type}: the KT is 0 to 3")

    @property
    def six_digit_iin(self) -> bool:
        """The legacy IIN 600727 is six digits; the newer form is '0000' + a 13-digit IAIN."""
        return self.pan.startswith("600727")

    def pan_block(self) -> bytes:
        """PANBlock: the 16 digits before the PAN's check digit, as BCD (6.5.3.1); a common
        key (KT 3) keeps only the IIN part."""
        digits = self.pan[1:17]
        if self.key_type == 3:
            keep = 5 if self.six_digit_iin else 3
            digits = digits[:keep] + "0" * (16 - keep)
        return bytes.fromhex(digits)

    def control_block(self) -> bytes:
        """CONTROLBlock: KT, SGC, TI, KRN, then F padding (6.5.3.2)."""
        return bytes.fromhex(f"{self.key_type}{self.supply_group}{self.tariff_index}"
                             f"{self.key_revision}FFFFFF")


def _digits(what: str, value: str, count: int) -> None:
    if len(value) != count or not value.isdigit():
        raise StsError(f"{what} {value!r}: expected {count} decimal digits")


def parse_hex_key(what: str, text: str, lengths: tuple[int, ...]) -> bytes:
    """A hex key of one of `lengths` bytes, or one line naming what is wrong (never the key)."""
    cleaned = text.replace(" ", "").replace(":", "")
    try:
        key = bytes.fromhex(cleaned)
    except ValueError:
        raise StsError(f"{what}: not hexadecimal") from None
    if len(key) not in lengths:
        sizes = " or ".join(f"{n * 8} bits ({n * 2} hex digits)" for n in lengths)
        raise StsError(f"{what}: {len(cleaned)} hex digits; a key here is {sizes}")
    return key


def dkga02(vending_key: bytes, meter: MeterIdentity) -> bytes:
    """DKGA02: DK = DES_VK(PB xor CB) xor (PB xor CB) xor VK, with a 64-bit DES vending key."""
    if len(vending_key) != 8:
        raise StsError(f"--vending-key: DKGA02 takes a 64-bit DES key, not "
                       f"{len(vending_key) * 8} bits")
    data = bytes(a ^ b for a, b in zip(meter.pan_block(), meter.control_block(), strict=True))
    encrypted = des(vending_key, data)
    return bytes(e ^ d ^ v for e, d, v in zip(encrypted, data, vending_key, strict=True))


def dkga04_data(meter: MeterIdentity, encryption: Encryption, base_year: int) -> bytes:
    """The fixed-format data that DKGA04's HMAC-SHA-256 key derivation runs over: the DKGA,
    base date, EA, TI, SGC, KT, KRN and MeterPAN with their field markers, then the key length
    in bits."""
    if base_year not in BASE_YEARS:
        raise StsError(f"--base-date {base_year}: STS base dates are "
                       f"{', '.join(map(str, BASE_YEARS))}")
    bits = encryption.key_bytes * 8
    return b"".join((
        b"\x04\x02", b"04", b"\x02", f"{base_year % 100:02d}".encode(), b"\x02",
        encryption.code.encode(), b"\x02", meter.tariff_index.encode(), b"\x00\x04\x06",
        meter.supply_group.encode(), b"\x01", f"{meter.key_type:x}".encode(), b"\x01",
        f"{meter.key_revision:x}".encode(), b"\x12", meter.pan.encode(),
        bits.to_bytes(4, "big"),
    ))


def dkga04(vending_key: bytes, meter: MeterIdentity, encryption: Encryption,
           base_year: int) -> bytes:
    """DKGA04: the first 64 or 128 bits of HMAC-SHA-256 keyed with the 160-bit vending key."""
    if len(vending_key) != 20:
        raise StsError(f"--vending-key: DKGA04 takes a 160-bit vending key, not "
                       f"{len(vending_key) * 8} bits")
    mac = hmac.new(vending_key, dkga04_data(meter, encryption, base_year), hashlib.sha256)
    return mac.digest()[:encryption.key_bytes]
