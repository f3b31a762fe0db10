"""SM4 in the ways an ESAM uses it: key dispersion, MACs, padded encryption.

SM4 stands in for the unpublished SM1 (docs/esam.md). The conventions are rig's, in the
field's usual shapes: a key is dispersed for one card or meter by enciphering an 8-byte
factor and its complement (the "dispersion factor" of the specifications); a MAC is a
CBC-MAC over ISO/IEC 9797-1 padding method 2 with a challenge as the initial vector, cut to
4 bytes; data is enciphered in ECB after the same padding. Nothing here logs or returns a key
except :func:`disperse`, whose result the caller must keep to itself.
"""

from __future__ import annotations

import hmac

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 16
KEY_LEN = 16
FACTOR_LEN = 8
MAC_LEN = 4


class CryptoError(ValueError):
    """Bad key, factor, padding or length: the message never carries key bytes."""


def _ecb(key: bytes, data: bytes, *, decrypt: bool = False) -> bytes:
    if len(key) != KEY_LEN:
        raise CryptoError(f"an SM4 key is {KEY_LEN} bytes")
    if len(data) % BLOCK:
        raise CryptoError(f"SM4 works on whole {BLOCK}-byte blocks, got {len(data)} bytes")
    cipher = Cipher(algorithms.SM4(key), modes.ECB())
    op = cipher.decryptor() if decrypt else cipher.encryptor()
    return op.update(data) + op.finalize()


def pad(data: bytes) -> bytes:
    """ISO/IEC 9797-1 padding method 2: 80h, then zeros to a whole block (always adds)."""
    return data + b"\x80" + bytes(-(len(data) + 1) % BLOCK)


def unpad(data: bytes) -> bytes:
    body = data.rstrip(b"\x00")
    if not body.endswith(b"\x80") or len(data) - len(body) >= BLOCK:
        raise CryptoError("bad padding (wrong key, or the data was changed)")
    return body[:-1]


def disperse(master: bytes, factor: bytes) -> bytes:
    """The key of one card or meter: SM4(master, factor || NOT factor)."""
    if len(factor) != FACTOR_LEN:
        raise CryptoError(f"a dispersion factor is {FACTOR_LEN} bytes, got {len(factor)}")
    return _ecb(master, factor + bytes(b ^ 0xFF for b in factor))


def encrypt(key: bytes, data: bytes) -> bytes:
    return _ecb(key, pad(data))


def decrypt(key: bytes, data: bytes) -> bytes:
    return unpad(_ecb(key, data, decrypt=True))


def cryptogram(key: bytes, challenge: bytes) -> bytes:
    """The 8-byte answer to a challenge (internal/external authentication, identity)."""
    if not 4 <= len(challenge) <= BLOCK:
        raise CryptoError(f"a challenge is 4 to {BLOCK} bytes, got {len(challenge)}")
    return _ecb(key, challenge.ljust(BLOCK, b"\x00"))[:8]


def mac(key: bytes, data: bytes, iv: bytes = b"") -> bytes:
    """4-byte SM4 CBC-MAC of ``data`` (padding method 2), ``iv`` = challenge zero-filled."""
    if len(iv) > BLOCK:
        raise CryptoError(f"a MAC's initial vector is at most {BLOCK} bytes")
    chain = iv.ljust(BLOCK, b"\x00")
    padded = pad(data)
    for i in range(0, len(padded), BLOCK):
        block = bytes(a ^ b for a, b in zip(chain, padded[i:i + BLOCK], strict=True))
        chain = _ecb(key, block)
    return chain[:MAC_LEN]


def mac_ok(key: bytes, data: bytes, iv: bytes, given: bytes) -> bool:
    return len(given) == MAC_LEN and hmac.compare_digest(mac(key, data, iv), given)
