"""Where a card's PSC comes from: one per meter, derived from the issuer master key.

An SLE 4442 has no keys, only a 3-byte PSC that gates writing. rig derives it per meter (all
cards of one meter share it): the vending station derives it from the master key for the
meter it writes a card for; the meter holds only its own, derived once at manufacture. One
meter's PSC (which anyone who reads a meter's memory, or watches a card slot's bus, learns)
opens no other meter's cards. The PSC never goes into a trace, log or record.
"""

from __future__ import annotations

import hashlib
import hmac

from rig.card.keys import derive_meter_key
from rig.card_formats.interface import KeySource

PSC_LABEL = b"RIG-SLE4442-PSC"


def meter_psc(keys: KeySource, meter_no: str, key_revision: int) -> bytes:
    """HMAC-SHA256(K_meter, "RIG-SLE4442-PSC")[:3], K_meter = rig's per-meter key."""
    meter_key = derive_meter_key(keys.master, meter_no, key_revision)
    return hmac.new(meter_key, PSC_LABEL, hashlib.sha256).digest()[:3]
