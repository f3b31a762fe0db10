"""A readback record as an emulated meter writes it, for load generators and tests that play
the meter without a card: the centre's view of a readback, MAC'd under the meter's own
readback key (derived from the lab test readback master unless another is given)."""

from __future__ import annotations

from typing import Any

from rig.card.keys import (
    MasterKey,
    derive_meter_readback_key,
    derive_readback_mac_key,
    lab_readback_key,
)
from rig.card.readback_format import record_from_fields


def meter_readback(data: Any, *, key_revision: int, readback_no: int = 1,
                   readback_master: MasterKey | None = None) -> bytes:
    """The 57 bytes of ``data`` (an object with the readback's fields, such as the centre's
    ``ReadbackData``) as a ReadbackRecord signed by meter ``data.meter_no``."""
    record = record_from_fields(data, readback_no=readback_no)
    meter_key = derive_meter_readback_key(readback_master or lab_readback_key(), data.meter_no)
    return record.sign(derive_readback_mac_key(meter_key, key_revision)).to_bytes()
