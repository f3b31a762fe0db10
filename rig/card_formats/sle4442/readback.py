"""The SLE 4442 format's readback record as the billing centre reads it (``sle4442-v1``).

The record is the 64-byte READBACK block the meter wrote (docs/card-formats/sle4442.md). The
card has no cryptography and its CRC proves only that the block is whole; the record's MAC is
the *meter's*: AES-CMAC/8 over bytes 0..52 under the meter's readback MAC key, derived (as
for rig's own format) from the centre's readback master, the meter number and the key
revision. So :meth:`SLE4442ReadbackFormat.mac_verifies` proves what it says — the meter
holding that key wrote these values — and nothing about the card's purchase block: a forged
purchase the meter applied shows in a verified readback as credit the centre never sold.
"""

from __future__ import annotations

from typing import Any

from rig.card.apdu import RecordError
from rig.card.keys import mac_matches
from rig.card.readback_format import RigReadbackFormat
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


class SLE4442ReadbackFormat(RigReadbackFormat):
    """Registered under ``rig.readback_formats`` as ``sle4442-v1``: its own record, rig's
    readback key hierarchy (``mac_key``, the master's loading, the public test key)."""

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
        """Did the meter holding ``mac_key`` write this record? (False for a malformed one.)"""
        try:
            block = layout.ReadbackBlock.decode(bytes(raw))
        except RecordError:
            return False
        return block is not None and mac_matches(mac_key, block.signed(), block.mac)


SLE4442_V1 = SLE4442ReadbackFormat()
