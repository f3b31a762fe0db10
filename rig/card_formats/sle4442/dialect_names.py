"""The SLE 4442 reader dialects by name: what a profile's `[card] options` may say, known
without importing the dialects' clients and virtual readers (rig.card_formats.sle4442.dialects).
"""

from __future__ import annotations

DIALECTS = ("acs", "omnikey")  # the first is the default
# Those that set a PSC and protection bits (CHANGE PSC, WRITE PROTECTION): a blank card is
# issued through one of them. tests/card_formats/sle4442/test_dialects.py checks it against
# the dialects' own commands.
ISSUING = ("acs",)
