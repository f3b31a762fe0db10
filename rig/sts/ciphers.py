"""The token's encryption step: one 64-bit block under EA07 (STA), EA09 (DEA) or EA11 (MISTY1)."""

from __future__ import annotations

from rig.sts import sta
from rig.sts.errors import StsError
from rig.sts.keys import Encryption, _des_encrypt
from rig.sts.misty1 import Misty1


def _check_key(encryption: Encryption, key: bytes) -> None:
    if len(key) != encryption.key_bytes:
        raise StsError(f"--decoder-key: {len(key) * 2} hex digits; an {encryption.value} "
                       f"decoder key is {encryption.key_bytes * 8} bits "
                       f"({encryption.key_bytes * 2} hex digits)")


def _des_decrypt(key: bytes, block: bytes) -> bytes:
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
    from cryptography.hazmat.primitives.ciphers import Cipher, modes

    decryptor = Cipher(TripleDES(key * 3), modes.ECB()).decryptor()
    return decryptor.update(block) + decryptor.finalize()


def encrypt(encryption: Encryption, key: bytes, block: int) -> int:
    """Encrypt the 64-bit data block (an int, bit 63 first) with the decoder key."""
    _check_key(encryption, key)
    if encryption is Encryption.STA:
        return sta.encrypt(key, block)
    raw = block.to_bytes(8, "big")
    if encryption is Encryption.DEA:
        return int.from_bytes(_des_encrypt(key, raw), "big")
    return int.from_bytes(Misty1(key).encrypt_block(raw), "big")


def decrypt(encryption: Encryption, key: bytes, block: int) -> int:
    """Decrypt a 64-bit block as the meter does."""
    _check_key(encryption, key)
    if encryption is Encryption.STA:
        return sta.decrypt(key, block)
    raw = block.to_bytes(8, "big")
    if encryption is Encryption.DEA:
        return int.from_bytes(_des_decrypt(key, raw), "big")
    return int.from_bytes(Misty1(key).decrypt_block(raw), "big")
