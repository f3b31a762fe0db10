"""The readback formats the centre can read, found without importing any card code.

A card format provides a :class:`ReadbackFormat` through the ``rig.readback_formats`` entry
point group (rig's own: ``rig.card.readback_format:RIG_V1``); the centre decodes an uploaded
record and verifies its MAC through it, with its own readback key service. So ``rig.billing``
depends on no hardware package, and a new card format is an installed plugin, not an edit here.
"""

from __future__ import annotations

import os
from functools import cache
from importlib.metadata import entry_points
from typing import Any, Protocol

from rig.errors import BillingError

GROUP = "rig.readback_formats"


class ReadbackMaster(Protocol):
    """A readback master key as the centre holds it: opaque, never exported."""

    @property
    def key_id(self) -> str: ...


class ReadbackFormat(Protocol):
    """One card format's readback record and MAC scheme."""

    name: str
    record_size: int

    def accepts(self, raw: bytes) -> bool:
        """Is ``raw`` a record of this format (its size and version)?"""

    def fields(self, raw: bytes) -> dict[str, Any]:
        """The record's fields, named as :class:`rig.billing.types.ReadbackData` names them;
        raises a RigError or ValueError naming the bad field for a malformed record."""

    def mac_verifies(self, raw: bytes, mac_key: bytes) -> bool: ...

    def mac_key(self, master: Any, meter_no: str, key_revision: int) -> bytes:
        """The meter's readback MAC key at ``key_revision``, derived from the master."""

    def load_master(self, path: str | os.PathLike[str]) -> ReadbackMaster: ...

    def default_master(self) -> ReadbackMaster:
        """The master when none is configured ($RIG_READBACK_KEY, else a public test key)."""

    def is_public_test_key(self, master: Any) -> bool: ...


_registered: dict[str, ReadbackFormat] = {}


def register(fmt: ReadbackFormat) -> None:
    """Add a format at run time (one not installed as an entry point, e.g. in a test)."""
    _registered[fmt.name] = fmt


@cache
def _installed() -> tuple[ReadbackFormat, ...]:
    return tuple(ep.load() for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name))


def formats() -> list[ReadbackFormat]:
    """Every readback format known: the installed ones, then those registered at run time."""
    found = {f.name: f for f in _installed()}
    found.update(_registered)
    if not found:
        raise BillingError(f"no readback format installed (entry point group {GROUP}): "
                           "reinstall rig")
    return list(found.values())


def default_format() -> ReadbackFormat:
    """The format whose keys the centre holds unless told otherwise: rig's own, if installed."""
    every = formats()
    return next((f for f in every if f.name == "rig-v1"), every[0])


def format_for(raw: bytes) -> ReadbackFormat:
    """The format ``raw`` is a record of (by size, then by the format's own check); an error
    naming the sizes known when no format has records of that size."""
    every = formats()
    sized = [f for f in every if f.record_size == len(raw)]
    if not sized:
        sizes = " or ".join(sorted({str(f.record_size) for f in every}))
        raise BillingError(f"raw_hex: a readback record is {sizes} bytes, got {len(raw)}")
    return next((f for f in sized if f.accepts(raw)), sized[0])  # the first says what is wrong
