"""The billing centre's STS key service: the one holder of the vending keys decoder keys are
derived from (DKGA02: a 64-bit DES key, DKGA04: a 160-bit key).

A real centre names its keys in a file only its account can read (``$RIG_STS_KEY_FILE`` or
``--sts-key-file``): one line per algorithm, ``dkga02 HEX`` and/or ``dkga04 HEX``. Without one
it uses the public STS 531-1 compliance test keys (:mod:`rig.sts.identity`), which the
emulated keypad meters are made with and which prove nothing on a real meter: every token
issued under them says so in the audit (``public_test_key``). The keys are never in the
database, a log line, an audit event, a reply or a ``repr``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from rig.errors import ConfigError
from rig.sts.identity import LAB_VENDING_KEY_DKGA02, LAB_VENDING_KEY_DKGA04, StsSection
from rig.sts.keys import dkga02, dkga04

KEY_FILE_ENV = "RIG_STS_KEY_FILE"
_LENGTHS = {"dkga02": 8, "dkga04": 20}
_PUBLIC = {"dkga02": LAB_VENDING_KEY_DKGA02, "dkga04": LAB_VENDING_KEY_DKGA04}


class StsKeyService:
    """Derives each STS meter's decoder key on demand; never exports a vending key."""

    __slots__ = ("_keys",)

    def __init__(self, keys: dict[str, bytes]) -> None:
        for dkga, key in keys.items():
            if len(key) != _LENGTHS.get(dkga, -1):
                raise ConfigError(f"STS vending key {dkga}: {len(key) * 8} bits, expected "
                                  f"{_LENGTHS.get(dkga, 0) * 8}")
        self._keys = dict(keys)

    @classmethod
    def public_test_keys(cls) -> StsKeyService:
        return cls(dict(_PUBLIC))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> StsKeyService:
        """``dkga02 HEX`` / ``dkga04 HEX`` lines; an error names the file and line, never a key."""
        keys: dict[str, bytes] = {}
        try:
            text = Path(path).read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"STS key file {path}: cannot read it ({type(e).__name__})") \
                from None
        for n, line in enumerate(text.splitlines(), 1):
            parts = line.split("#", 1)[0].split()
            if not parts:
                continue
            if len(parts) != 2 or parts[0] not in _LENGTHS:
                raise ConfigError(f"STS key file {path}:{n}: expected 'dkga02 HEX' or "
                                  "'dkga04 HEX'")
            try:
                keys[parts[0]] = bytes.fromhex(parts[1])
            except ValueError:
                raise ConfigError(f"STS key file {path}:{n}: the key is not hexadecimal") \
                    from None
            if len(keys[parts[0]]) != _LENGTHS[parts[0]]:
                raise ConfigError(f"STS key file {path}:{n}: a {parts[0]} vending key is "
                                  f"{_LENGTHS[parts[0]] * 2} hex digits")
        if not keys:
            raise ConfigError(f"STS key file {path}: no key in it")
        return cls(keys)

    @classmethod
    def default(cls) -> StsKeyService:
        """$RIG_STS_KEY_FILE, else the public STS test keys (flagged as such)."""
        path = os.environ.get(KEY_FILE_ENV, "").strip()
        return cls.from_file(path) if path else cls.public_test_keys()

    def public_test_key(self, dkga: str) -> bool:
        return self._keys.get(dkga) == _PUBLIC[dkga]

    def key_id(self, dkga: str) -> str:
        """4 bytes of SHA-256 of the vending key: what records name, never the key."""
        return hashlib.sha256(self._key(dkga)).hexdigest()[:8]

    def describe(self, dkga: str) -> str:
        return f"STS {dkga} vending key {self.key_id(dkga)}" + (
            " (public test key)" if self.public_test_key(dkga) else "")

    def decoder_key(self, identity: StsSection) -> bytes:
        """The meter's decoder key, MSB first (IEC 62055-41, 6.5.3)."""
        if identity.dkga == "dkga02":
            return dkga02(self._key("dkga02"), identity.meter())
        return dkga04(self._key("dkga04"), identity.meter(), identity.encryption,
                      identity.base_date)

    def _key(self, dkga: str) -> bytes:
        key = self._keys.get(dkga)
        if key is None:
            raise ConfigError(f"the centre holds no {dkga} vending key: add a '{dkga} HEX' "
                              f"line to ${KEY_FILE_ENV}'s file")
        return key

    def __repr__(self) -> str:
        return f"StsKeyService({', '.join(sorted(self._keys))})"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("StsKeyService is not picklable (keys stay in one process)")
