"""PC/SC reader dialects for SLE 4442 cards: the vendor pseudo-APDUs a card writer speaks.

Chosen per station (``options = {dialect = "acs"}``), like the load's SCPI dialects. Each
dialect gives the station's client and the virtual reader that answers exactly its commands.
"""

from __future__ import annotations

from rig.card.session import ApduTransport
from rig.card_formats.sle4442.chip import SLE4442Chip
from rig.card_formats.sle4442.dialect_names import DIALECTS, ISSUING
from rig.card_formats.sle4442.dialects.acs import AcsClient, AcsFrontEnd, select_card_type
from rig.card_formats.sle4442.dialects.base import MemoryCardClient, PscRefused, ReaderFrontEnd
from rig.card_formats.sle4442.dialects.omnikey import OmnikeyClient, OmnikeyFrontEnd
from rig.errors import ConfigError

_CLIENTS: dict[str, type[MemoryCardClient]] = {"acs": AcsClient, "omnikey": OmnikeyClient}
ISSUING_COMMANDS = ("CHANGE PSC", "WRITE PROTECTION")  # what an issuing dialect's client has
_SELECTS = {"acs": select_card_type()}  # each issuing dialect's first command
_FRONT_ENDS: dict[str, type[AcsFrontEnd] | type[OmnikeyFrontEnd]] = {
    "acs": AcsFrontEnd, "omnikey": OmnikeyFrontEnd}


def checked(name: str | None) -> str:
    """The dialect called ``name`` (None = the default); ConfigError naming the known ones."""
    name = DIALECTS[0] if name is None else name
    if name not in DIALECTS:
        raise ConfigError(f"[card] options dialect: no SLE 4442 reader dialect {name!r} "
                          f"(known: {', '.join(DIALECTS)})")
    return name


def issuing(name: str) -> str:
    """``name`` as an issuing writer's dialect: one that can set the PSC and the protection
    bits (ConfigError naming those that can)."""
    if checked(name) not in ISSUING:
        raise ConfigError(f"[card] options issue_dialect: the {name} dialect cannot issue a "
                          f"card (no CHANGE PSC, no WRITE PROTECTION); issuing dialects: "
                          f"{', '.join(ISSUING)}")
    return name


def issuing_select(name: str) -> bytes:
    """The command an issuing client of dialect ``name`` starts with (ACS: SELECT_CARD_TYPE):
    the emulated card answers that dialect from it on (VirtualSLE4442.issue_dialect)."""
    return _SELECTS[issuing(name)]


def client(name: str | None, transport: ApduTransport) -> MemoryCardClient:
    return _CLIENTS[checked(name)](transport)


def front_end(name: str | None, chip: SLE4442Chip) -> ReaderFrontEnd:
    return _FRONT_ENDS[checked(name)](chip)


__all__ = ["DIALECTS", "ISSUING", "MemoryCardClient", "PscRefused", "ReaderFrontEnd", "checked",
           "client", "front_end", "issuing", "issuing_select"]
