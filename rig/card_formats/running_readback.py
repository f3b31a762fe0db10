"""The meter's running information as the billing centre reads it (``esam-running-v1``).

Remote delivery reads file 0007 back over DL/T 645 (:mod:`rig.card_formats.running_info`): the State
Grid running information, rig's extension and the meter's MAC under its readback key. The
office has verified the ESAM's MAC on the read-back with its key service; the centre verifies
the record's own MAC with its readback key, as for any card's readback, so a remote readback
confirms vends and reconciles exactly as a card's does.
"""

from __future__ import annotations

from typing import Any

from rig.card.readback_format import RigReadbackFormat
from rig.card_formats.running_info import INFO_LEN, START, RunningInfoError, RunningRecord


class RunningReadbackFormat(RigReadbackFormat):
    """Registered under ``rig.readback_formats`` as ``esam-running-v1``: rig's readback key
    hierarchy over the State Grid running information."""

    name = "esam-running-v1"
    record_size = RunningRecord.SIZE

    def accepts(self, raw: bytes) -> bool:
        return len(raw) == self.record_size and raw[0] == START and len(raw) > INFO_LEN

    def fields(self, raw: bytes) -> dict[str, Any]:
        return RunningRecord.decode(bytes(raw)).readback_fields()

    def mac_verifies(self, raw: bytes, mac_key: bytes) -> bool:
        try:
            return RunningRecord.decode(bytes(raw)).mac_ok(mac_key)
        except RunningInfoError:
            return False


ESAM_RUNNING_V1 = RunningReadbackFormat()
