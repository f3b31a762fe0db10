"""The token's encryption step: one 64-bit block under EA07 (STA), EA09 (DEA) or EA11 (MISTY1)."""

from __future__ import annotations

from rig.sts import sta
from rig.sts.des import des
from rig.sts.errors import StsError
from rig.sts.keys import Encryption
from rig.sts.misty1 import Misty1


def encrypt(encryption: Encryption, key: bytes, block: int) -> int:
    """Encrypt the 64-bit data block (an int, bit 63 first) with the decoder key."""
    return _run(encryption, key, block, decrypting=False)


def decrypt(encryption: Encryption, key: bytes, block: int) -> int:
    """Decrypt a 64-bit block as the meter does."""
    return _run(encryption, key, block, decrypting=True)


def _run(encryption: Encryption, key: bytes, block: int, *, decrypting: bool) -> int:
    if len(key) != encryption.key_bytes:
        raise StsError(f"--decoder-key: {len(key) * 2} hex digits; an {encryption.value} "
                       f"decoder key is {encryption.key_bytes * 8} bits "
                       f"({encryption.key_bytes * 2} hex digits)")
    if encryption is Encryption.STA:
        return (sta.decrypt if decrypting else sta.encrypt)(key, block)
    raw = block.to_bytes(8, "big")
    if encryption is Encryption.DEA:
        out = des(key, raw, decrypt=decrypting)
    else:
        misty = Misty1(key)
        out = misty.decrypt_block(raw) if decrypting else misty.encrypt_block(raw)
    return int.from_bytes(out, "big")
