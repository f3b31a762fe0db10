"""What an ESAM is commissioned with, apart from its keys: the key state it starts in and how
long an identity authentication stays valid. A profile's `[esam]` section (rig.esam.section)
reads these without importing the ESAM's cryptography."""

from __future__ import annotations

from enum import StrEnum

DEFAULT_IDENTITY_MINUTES = 5


class KeyState(StrEnum):
    PUBLIC = "public"  # factory / test keys: every lab knows them
    PRIVATE = "private"  # the utility's own keys

    @property
    def code(self) -> int:
        return 0 if self is KeyState.PUBLIC else 1
