"""The billing centre's readback key service: the one holder of the readback master key.

Meters MAC their readback records under a key of a second hierarchy (see
:func:`rig.card.keys.derive_meter_readback_key`); the issuer master key a vending station
holds does not derive it. The centre verifies every uploaded readback here, so no station,
client or token can make the centre believe a readback the meter did not write.
"""

from __future__ import annotations

import os

from rig.card.keys import (
    MasterKey,
    derive_meter_readback_key,
    derive_readback_mac_key,
    lab_readback_test_key,
)

READBACK_KEY_ENV = "RIG_READBACK_KEY"


def lab_readback_key() -> MasterKey:
    """The readback master emulated meters are 'manufactured' with: $RIG_READBACK_KEY, else
    the public lab test file. A set but malformed variable is an error naming it."""
    if os.environ.get(READBACK_KEY_ENV, "").strip():
        return MasterKey.from_env(READBACK_KEY_ENV)
    return lab_readback_test_key()


class ReadbackKeyService:
    """Derives meters' readback MAC keys for the centre's own verification; never exports
    the master. ``public_test_key`` marks the lab test key, which proves nothing on a real
    bench: every verification records it."""

    __slots__ = ("_master", "public_test_key")

    def __init__(self, master: MasterKey, *, public_test_key: bool = False) -> None:
        self._master = master
        self.public_test_key = public_test_key

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> ReadbackKeyService:
        key = MasterKey.from_file(path)
        return cls(key, public_test_key=key == lab_readback_test_key())

    @classmethod
    def default(cls) -> ReadbackKeyService:
        """$RIG_READBACK_KEY, else the public lab test key (flagged as such)."""
        key = lab_readback_key()
        return cls(key, public_test_key=key == lab_readback_test_key())

    @property
    def key_id(self) -> str:
        return self._master.key_id

    def describe(self) -> str:
        """One line for logs and records: the key id, and whether it is the public test key."""
        return f"readback key {self.key_id}" + (" (public test key)" if self.public_test_key
                                                else "")

    def mac_key(self, meter_no: str, key_revision: int) -> bytes:
        return derive_readback_mac_key(derive_meter_readback_key(self._master, meter_no),
                                       key_revision)

    def __repr__(self) -> str:
        return f"ReadbackKeyService({self.describe()})"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("ReadbackKeyService is not picklable (keys stay in one process)")
