"""The STS encryption algorithms a meter may use (IEC 62055-41), apart from the ciphers: a
profile's `[sts]` section names one without importing them."""

from __future__ import annotations

from enum import StrEnum


class Encryption(StrEnum):
    """The encryption algorithm codes of the APDU (EA)."""

    STA = "sta"  # EA07, 64-bit key
    DEA = "dea"  # EA09, 64-bit key (deprecated by the 2018 edition)
    MISTY1 = "misty1"  # EA11, 128-bit key

    @property
    def code(self) -> str:
        return {"sta": "07", "dea": "09", "misty1": "11"}[self.value]

    @property
    def key_bytes(self) -> int:
        return 16 if self is Encryption.MISTY1 else 8
