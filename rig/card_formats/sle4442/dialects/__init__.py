"""PC/SC reader dialects for SLE 4442 cards: the vendor pseudo-APDUs a card writer speaks.

Chosen per station (``options = {dialect = "acs"}``), like the load's SCPI dialects. Each
dialect gives the station's client and the virtual reader that answers exactly its commands.
"""

from __future__ import annotations

from rig.card.session import ApduTransport
from rig.card_formats.sle4442.chip import SLE4442Chip
from rig.card_formats.sle4442.dialects.acs import AcsClient, AcsFrontEnd
from rig.card_formats.sle4442.dialects.base import MemoryCardClient, PscRefused, ReaderFrontEnd
from rig.card_formats.sle4442.dialects.omnikey import OmnikeyClient, OmnikeyFrontEnd
from rig.errors import ConfigError

DIALECTS = ("acs", "omnikey")  # the first is the default
_CLIENTS: dict[str, type[MemoryCardClient]] = {"acs": AcsClient, "omnikey": OmnikeyClient}
_FRONT_ENDS: dict[str, type[AcsFrontEnd] | type[OmnikeyFrontEnd]] = {
    "acs": AcsFrontEnd, "omnikey": OmnikeyFrontEnd}


def checked(name: str | None) -> str:
    """The dialect called ``name`` (None = the default); ConfigError naming the known ones."""
    name = DIALECTS[0] if name is None else name
    if name not in DIALECTS:
        raise ConfigError(f"[card] options dialect: no SLE 4442 reader dialect {name!r} "
                          f"(known: {', '.join(DIALECTS)})")
    return name


def client(name: str | None, transport: ApduTransport) -> MemoryCardClient:
    return _CLIENTS[checked(name)](transport)


def front_end(name: str | None, chip: SLE4442Chip) -> ReaderFrontEnd:
    return _FRONT_ENDS[checked(name)](chip)


__all__ = ["DIALECTS", "MemoryCardClient", "PscRefused", "ReaderFrontEnd", "checked",
           "client", "front_end"]
