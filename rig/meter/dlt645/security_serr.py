"""SERR, the 2-byte security error word of an abnormal reply (C3H) to a security command.

The bit meanings are those of the State Grid meters' security error word (docs/protocols.md).
:class:`SecurityError` is what the meter's side raises to answer with those bits.
"""

from __future__ import annotations

SERR_OTHER = 0x0001
SERR_REPEATED_RECHARGE = 0x0002
SERR_ESAM = 0x0004  # ESAM verification failed (a MAC, a key package, the key state)
SERR_IDENTITY = 0x0008  # identity authentication failed (or none valid)
SERR_CUSTOMER = 0x0010  # customer number mismatch
SERR_RECHARGE_COUNT = 0x0020  # recharge (purchase) count error
SERR_HOARDING = 0x0040  # purchase exceeds the hoarding limit
SERR_ADDRESS = 0x0080  # address abnormal
SERR_SUSPENDED = 0x0100  # meter suspended

SERR_REASONS: dict[int, str] = {
    SERR_OTHER: "other error",
    SERR_REPEATED_RECHARGE: "repeated recharge",
    SERR_ESAM: "ESAM verification failed",
    SERR_IDENTITY: "identity authentication failed",
    SERR_CUSTOMER: "customer number mismatch",
    SERR_RECHARGE_COUNT: "recharge count error",
    SERR_HOARDING: "purchase exceeds the hoarding limit",
    SERR_ADDRESS: "address abnormal",
    SERR_SUSPENDED: "meter suspended",
}


def decode_serr(word: int) -> list[str]:
    """Human-readable reasons for each bit set in a security error word."""
    reasons = [text for bit, text in SERR_REASONS.items() if word & bit]
    unknown = word & ~sum(SERR_REASONS)
    if unknown:
        reasons.append(f"reserved bits {unknown:04X}")
    return reasons or ["no error bit set"]


class SecurityError(Exception):
    """What the meter's side raises to answer with an abnormal reply: the SERR bits."""

    def __init__(self, serr: int, detail: str = "") -> None:
        super().__init__(f"{', '.join(decode_serr(serr))}" + (f" ({detail})" if detail else ""))
        self.serr = serr


def serr_bytes(serr: int) -> bytes:
    return serr.to_bytes(2, "little")


def serr_from(data: bytes) -> int:
    return int.from_bytes(data[:2], "little")
