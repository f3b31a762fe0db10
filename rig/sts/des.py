"""Single DES (FIPS 46-3) for DKGA02 and EA09: TripleDES with K1 = K2 = K3 is DES."""

from __future__ import annotations


def des(key: bytes, block: bytes, *, decrypt: bool = False) -> bytes:
    """One 8-byte block through DES in ECB mode."""
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
    from cryptography.hazmat.primitives.ciphers import Cipher, modes

    cipher = Cipher(TripleDES(key * 3), modes.ECB())
    context = cipher.decryptor() if decrypt else cipher.encryptor()
    return context.update(block) + context.finalize()
