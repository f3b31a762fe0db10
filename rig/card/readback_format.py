"""rig's own card format as the billing centre sees a readback: a record to decode and a MAC
to check, with nothing of the centre's types in it.

The centre (``rig.billing``) imports no card code; it finds this object through the
``rig.readback_formats`` entry point group (pyproject.toml), so another card format can
provide its own readback record and MAC scheme beside this one. Fields are handed over as
plain values, named as the centre's ``ReadbackData`` names them; the credit unit is
``"money_cents"`` or ``"energy_wh"``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from rig.card.apdu import MacError
from rig.card.keys import (
    MasterKey,
    derive_meter_readback_key,
    derive_readback_mac_key,
    lab_readback_key,
    lab_readback_test_key,
)
from rig.card.records import FORMAT_VERSION, ReadbackRecord
from rig.credit_unit import CreditUnit

FIELDS = tuple(f.name for f in dataclasses.fields(ReadbackRecord)
               if f.name not in ("readback_no", "mac"))


def readback_fields(record: ReadbackRecord) -> dict[str, Any]:
    """The record's fields as plain values (the write generation and the MAC left out)."""
    out = {name: getattr(record, name) for name in FIELDS}
    out["credit_unit"] = record.credit_unit.value
    return out


def record_from_fields(fields: Mapping[str, Any] | Any, *, readback_no: int = 1) -> ReadbackRecord:
    """An unsigned record of ``fields`` (a mapping, or an object with those attributes)."""
    values: dict[str, Any] = {name: fields[name] if isinstance(fields, Mapping)
                              else getattr(fields, name) for name in FIELDS}
    values["credit_unit"] = CreditUnit(str(values["credit_unit"]))
    return ReadbackRecord(**values, readback_no=readback_no)


class RigReadbackFormat:
    """Readback records of rig's card format 1 (docs/card-spec.md), MAC'd under the meter's
    readback key, derived from the centre's readback master."""

    name = "rig-v1"
    record_size = ReadbackRecord.SIZE

    def accepts(self, raw: bytes) -> bool:
        return len(raw) == self.record_size and raw[0] == FORMAT_VERSION

    def fields(self, raw: bytes) -> dict[str, Any]:
        """The record's fields; a malformed record raises RecordError naming the field."""
        return readback_fields(ReadbackRecord.from_bytes(raw))

    def mac_verifies(self, raw: bytes, mac_key: bytes) -> bool:
        try:
            ReadbackRecord.from_bytes(raw).verify(mac_key)
        except MacError:
            return False
        return True

    def mac_key(self, master: MasterKey, meter_no: str, key_revision: int) -> bytes:
        return derive_readback_mac_key(derive_meter_readback_key(master, meter_no), key_revision)

    def load_master(self, path: str | os.PathLike[str]) -> MasterKey:
        return MasterKey.from_file(path)

    def default_master(self) -> MasterKey:
        """$RIG_READBACK_KEY, else the public lab readback test key."""
        return lab_readback_key()

    def is_public_test_key(self, master: MasterKey) -> bool:
        """Is ``master`` rig's public lab readback key, which proves nothing on a real bench?"""
        return master == lab_readback_test_key()


RIG_V1 = RigReadbackFormat()
