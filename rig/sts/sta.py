"""EA07, the Standard Transfer Algorithm (STA): STS's own 64-bit cipher with a 64-bit key.

Sixteen rounds of nibble substitution (one of two 4-bit S-boxes, picked by a key bit) and a
64-bit permutation, the key rotating one bit per round (IEC 62055-41, 6.5.4). Bits are numbered
from the least significant (bit 0) to bit 63, as the standard numbers the data block. The
tables are the ones with which the STS 531-1 conformance vectors (tests/sts) come out; the
meter's decryption is written as the primary direction and encryption as its exact inverse.
"""

from __future__ import annotations

ROUNDS = 16
MASK64 = (1 << 64) - 1

# Where bit i of the substituted block goes in an encryption round.
PERMUTATION = (
    55, 42, 10, 18, 24, 21, 44, 35, 2, 22, 56, 43, 27, 58, 9, 50,
    6, 36, 12, 61, 37, 38, 53, 16, 62, 3, 7, 4, 32, 20, 63, 25,
    51, 52, 54, 33, 49, 19, 46, 29, 48, 31, 23, 30, 41, 28, 13, 5,
    40, 60, 39, 11, 15, 17, 1, 0, 57, 34, 59, 8, 47, 14, 45, 26,
)
# The encryption S-boxes: SBOX_SET when the nibble's key bit is 1, SBOX_CLEAR when it is 0.
SBOX_SET = (14, 10, 7, 9, 12, 3, 2, 5, 13, 0, 15, 1, 4, 8, 6, 11)
SBOX_CLEAR = (12, 8, 2, 13, 7, 6, 1, 3, 11, 5, 9, 15, 0, 4, 10, 14)


def _inverse(table: tuple[int, ...]) -> tuple[int, ...]:
    inv = [0] * len(table)
    for i, v in enumerate(table):
        inv[v] = i
    return tuple(inv)


INV_SBOX_SET = _inverse(SBOX_SET)
INV_SBOX_CLEAR = _inverse(SBOX_CLEAR)


def _rotr(value: int, steps: int) -> int:
    steps %= 64
    return ((value >> steps) | (value << (64 - steps))) & MASK64


def _byte_boxes(when_set: tuple[int, ...],
                when_clear: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    """Substitution a byte at a time: [low key bit + 2 * high key bit][byte value]."""
    boxes = (when_clear, when_set)
    return tuple(
        tuple(boxes[sel & 1][value & 0xF] | boxes[sel >> 1][value >> 4] << 4
              for value in range(256))
        for sel in range(4))


_ENCRYPT_BOXES = _byte_boxes(SBOX_SET, SBOX_CLEAR)
_DECRYPT_BOXES = _byte_boxes(INV_SBOX_SET, INV_SBOX_CLEAR)


def _substitute(block: int, key: int, boxes: tuple[tuple[int, ...], ...]) -> int:
    """Each nibble p through the box its key bit 4p picks."""
    out = 0
    for byte in range(8):
        shift = 8 * byte
        sel = ((key >> shift) & 1) | ((key >> (shift + 3)) & 2)
        out |= boxes[sel][(block >> shift) & 0xFF] << shift
    return out


def _byte_tables(where: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    """For each byte of the block and each of its 256 values: where its bits land. A bit
    permutation is then 8 look-ups instead of 64 bit moves."""
    return tuple(
        tuple(sum(((value >> b) & 1) << where[8 * byte + b] for b in range(8))
              for value in range(256))
        for byte in range(8))


_PERMUTE = _byte_tables(PERMUTATION)
_UNPERMUTE = _byte_tables(_inverse(PERMUTATION))


def _apply(tables: tuple[tuple[int, ...], ...], block: int) -> int:
    out = 0
    for byte, table in enumerate(tables):
        out |= table[(block >> (8 * byte)) & 0xFF]
    return out


def _permute(block: int) -> int:
    return _apply(_PERMUTE, block)


def _unpermute(block: int) -> int:
    return _apply(_UNPERMUTE, block)


def _key_int(key: bytes) -> int:
    if len(key) != 8:
        raise ValueError(f"an STA decoder key is 8 bytes, not {len(key)}")
    return int.from_bytes(key, "big")


def encrypt(key: bytes, block: int) -> int:
    """Encrypt the 64-bit data block (an int) with the 8-byte decoder key."""
    k = _key_int(key)
    for j in range(ROUNDS - 1, -1, -1):
        block = _permute(_substitute(block, _rotr(k, j), _ENCRYPT_BOXES))
    return block


def decrypt(key: bytes, block: int) -> int:
    """Decrypt a 64-bit block (an int), as the meter does."""
    k = _key_int(key)
    for j in range(ROUNDS):
        block = _substitute(_unpermute(block), _rotr(k, j), _DECRYPT_BOXES)
    return block
