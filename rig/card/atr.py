"""Answers-to-reset for virtual cards: what a card says when a reader powers it."""

from __future__ import annotations


def make_atr(historical: bytes) -> bytes:
    """ATR offering T=1 only: TS=3B, T0=8K, TD1=01, historical bytes, TCK (XOR T0..last)."""
    if len(historical) > 15:
        raise ValueError("at most 15 historical bytes")
    body = bytes([0x80 | len(historical), 0x01]) + historical
    tck = 0
    for b in body:
        tck ^= b
    return b"\x3b" + body + bytes([tck])


RIGPP_ATR = make_atr(b"RIGPP")
