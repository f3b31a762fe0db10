"""The kinds of card a format may have (rig.card_formats.interface re-exports them): a format's
object names its kinds with this module alone, without the interface's data classes."""

from __future__ import annotations

from enum import StrEnum


class CardKind(StrEnum):
    """What a card is for. A format may lack some kinds (``CardFormat.kinds`` says which)."""

    USER = "user"  # the customer's card: purchases in, readbacks out
    PARAMETER = "parameter"  # alarm levels, limits, friendly periods, tariff
    CHECK = "check"  # collects the meter's usage data, changes nothing
    CLEAR = "clear"  # clears the meter's event counters (or, as a test card, shows state)
    KEY_CHANGE = "key_change"  # moves the meter to the next key revision
    REPLACEMENT = "replacement"  # a reissued user card: the meter moves its binding to it
