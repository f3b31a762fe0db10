"""The esam-cpu return-write record as the billing centre reads it (``esam-cpu-v1``).

The record is the 80-byte return-write file the meter wrote. Its last 8 bytes are the
meter's MAC under its readback key (AES-CMAC/8, derived from the centre's readback master as
for rig's own format), so :meth:`EsamCpuReadbackFormat.mac_verifies` proves that the meter
holding that key wrote these values. (The card's own check, the ESAM's ``card-return`` MAC
on UPDATE BINARY with MAC, proves to the card who wrote the file; the centre holds no ESAM
key and relies on the readback MAC.)
"""

from __future__ import annotations

from typing import Any

from rig.card.apdu import RecordError
from rig.card.keys import mac_matches
from rig.card.readback_format import RigReadbackFormat
from rig.card_formats.esam_cpu import layout


class EsamCpuReadbackFormat(RigReadbackFormat):
    """Registered under ``rig.readback_formats`` as ``esam-cpu-v1``: its own record, rig's
    readback key hierarchy."""

    name = "esam-cpu-v1"
    record_size = layout.ReturnRecord.SIZE

    def accepts(self, raw: bytes) -> bool:
        return (len(raw) == self.record_size and raw[0] == layout.RETURN_TAG
                and raw[1] == layout.LAYOUT_VERSION)

    def fields(self, raw: bytes) -> dict[str, Any]:
        record = layout.ReturnRecord.decode(bytes(raw))
        if record is None:
            raise ValueError("an empty return-write file is not a record")
        return layout.readback_fields(record)

    def mac_verifies(self, raw: bytes, mac_key: bytes) -> bool:
        try:
            record = layout.ReturnRecord.decode(bytes(raw))
        except RecordError:
            return False
        return record is not None and mac_matches(mac_key, record.signed(), record.mac)


ESAM_CPU_V1 = EsamCpuReadbackFormat()
