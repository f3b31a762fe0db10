"""The SLE 4442 format's readback record as the billing centre reads it (``sle4442-v1``).

The record is the 64-byte READBACK block the meter wrote (docs/card-formats/sle4442.md). Its
integrity check is a CRC-16, not a MAC: anyone who knows the meter's PSC, or who copies a
card, can write a record with a valid CRC. So :meth:`SLE4442ReadbackFormat.mac_verifies`
answers False for every record: the centre stores these readbacks as *unverified* — they
report the meter's registers but confirm no vend and never reconcile as balanced on their own
(docs/card-formats/sle4442.md, "What the centre can trust").
"""

from __future__ import annotations

import os
from typing import Any

from rig.card.keys import MasterKey, lab_readback_key, lab_readback_test_key
from rig.card_formats.sle4442 import layout


def readback_fields(block: layout.ReadbackBlock) -> dict[str, Any]:
    """The record's values, named as the centre's ``ReadbackData`` names them."""
    return {
        "meter_no": block.meter_no, "energy_wh": block.energy_wh,
        "remaining": block.remaining, "overdraft": block.overdraft,
        "purchase_count": block.purchase_count, "last_sequence": block.last_sequence,
        "cumulative_purchase": block.cumulative_purchase,
        "credit_unit": layout.UNIT_NAMES[block.unit], "relay_open": block.relay_open,
        "alarm_active": block.alarm_active, "alarm_count": block.alarm_count,
        "cutoff_count": block.cutoff_count, "tamper_count": block.tamper_count,
        "power_down_count": block.power_down_count, "timestamp": block.timestamp,
        "tariff_version": block.tariff_version,
    }


class SLE4442ReadbackFormat:
    """Registered under ``rig.readback_formats`` as ``sle4442-v1``."""

    name = "sle4442-v1"
    record_size = layout.READBACK_SIZE

    def accepts(self, raw: bytes) -> bool:
        return (len(raw) == self.record_size and raw[0] == layout.READBACK_TAG
                and raw[1] == layout.LAYOUT_VERSION)

    def fields(self, raw: bytes) -> dict[str, Any]:
        """The record's fields; RecordError naming the field (or the CRC) when malformed."""
        block = layout.ReadbackBlock.decode(bytes(raw))
        if block is None:
            raise ValueError("an erased readback slot (all FFh) is not a record")
        return readback_fields(block)

    def mac_verifies(self, raw: bytes, mac_key: bytes) -> bool:
        """Never: a CRC proves no origin, so no record of this format is verified."""
        return False

    def mac_key(self, master: Any, meter_no: str, key_revision: int) -> bytes:
        return b""  # the format has no readback key

    def load_master(self, path: str | os.PathLike[str]) -> MasterKey:
        return MasterKey.from_file(path)

    def default_master(self) -> MasterKey:
        return lab_readback_key()

    def is_public_test_key(self, master: Any) -> bool:
        return bool(master == lab_readback_test_key())


SLE4442_V1 = SLE4442ReadbackFormat()
