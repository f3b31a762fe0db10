"""The billing centre's readback key service: the one holder of the readback master key.

Meters MAC their readback records under a key of a second hierarchy, derived from a readback
master that the issuer master key a vending station holds does not derive. The centre verifies
every uploaded readback here, so no station, client or token can make the centre believe a
readback the meter did not write. How a meter's MAC key is derived belongs to the card format
(:mod:`rig.billing.readback_format`); the master itself never leaves this object.
"""

from __future__ import annotations

import os
from typing import Any

from rig.billing.readback_format import ReadbackFormat, ReadbackMaster, default_format


class ReadbackKeyService:
    """Derives meters' readback MAC keys for the centre's own verification; never exports
    the master. ``public_test_key`` marks the lab test key, which proves nothing on a real
    bench: every verification records it."""

    __slots__ = ("_master", "format", "public_test_key")

    def __init__(self, master: ReadbackMaster, *, public_test_key: bool = False,
                 fmt: ReadbackFormat | None = None) -> None:
        self._master = master
        self.format = fmt or default_format()
        self.public_test_key = public_test_key

    @classmethod
    def _of(cls, master: Any, fmt: ReadbackFormat) -> ReadbackKeyService:
        return cls(master, public_test_key=fmt.is_public_test_key(master), fmt=fmt)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> ReadbackKeyService:
        fmt = default_format()
        return cls._of(fmt.load_master(path), fmt)

    @classmethod
    def default(cls) -> ReadbackKeyService:
        """$RIG_READBACK_KEY, else the public lab test key (flagged as such)."""
        fmt = default_format()
        return cls._of(fmt.default_master(), fmt)

    @property
    def key_id(self) -> str:
        return self._master.key_id

    def describe(self) -> str:
        """One line for logs and records: the key id, and whether it is the public test key."""
        return f"readback key {self.key_id}" + (" (public test key)" if self.public_test_key
                                                else "")

    def mac_key(self, meter_no: str, key_revision: int) -> bytes:
        return self.format.mac_key(self._master, meter_no, key_revision)

    def __repr__(self) -> str:
        return f"ReadbackKeyService({self.describe()})"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("ReadbackKeyService is not picklable (keys stay in one process)")
