"""Instrument dialects: what each load model calls the abstract operations of `ElectronicLoad`.

A dialect is *data*: a table of SCPI templates plus the modes the model offers. Adding a model
means adding a `Dialect` here, never an ``if maker == ...`` branch in the driver, so the driver
stays one code path that the emulated bench exercises end to end.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from rig.errors import InstrumentError


class LoadMode(StrEnum):
    """Regulation mode of an electronic load."""

    CC = "CC"  #: constant current
    CP = "CP"  #: constant power
    CR = "CR"  #: constant resistance
    CURRENT_RMS = "CURRENT_RMS"  #: AC loads: constant RMS current


#: Abstract operations a dialect maps to command templates. ``{value}`` is the formatted number
#: (set points) and ``{mode}`` the dialect's token for a `LoadMode`.
OPERATIONS: tuple[str, ...] = (
    "identify",  # query
    "reset",
    "clear_status",
    "error_query",  # query, one entry of the error queue: '<code>,"<message>"'
    "input_on",
    "input_off",
    "input_query",  # query
    "set_mode",
    "set_power",
    "set_current",
    "set_resistance",
    "measure_voltage",  # query
    "measure_current",  # query
    "measure_power",  # query
)


def _frozen(mapping: Mapping) -> Mapping:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class Dialect:
    """How one family of loads spells the generic operations.

    ``idn_pattern`` is a regex searched in the ``*IDN?`` reply for auto-selection; ``None`` means
    the dialect is only ever chosen by name (a generic SCPI dialect would otherwise match any
    instrument and hide a missing model entry).
    """

    name: str
    idn_pattern: str | None
    commands: Mapping[str, str]
    modes: Mapping[LoadMode, str]
    termination: str = "\n"
    #: replies of ``input_query`` that mean "input on"
    on_replies: frozenset[str] = frozenset({"1", "ON"})
    #: error code meaning "queue empty"
    no_error_code: int = 0
    description: str = ""
    _regex: re.Pattern[str] | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        object.__setattr__(self, "commands", _frozen(self.commands))
        object.__setattr__(self, "modes", _frozen(self.modes))
        missing = [op for op in ("identify", "error_query", "input_off") if op not in self.commands]
        if missing:
            raise ValueError(f"dialect {self.name!r} lacks mandatory operations {missing}")
        unknown = sorted(set(self.commands) - set(OPERATIONS))
        if unknown:
            raise ValueError(f"dialect {self.name!r} defines unknown operations {unknown}")
        if self.idn_pattern is not None:
            object.__setattr__(self, "_regex", re.compile(self.idn_pattern))

    def matches(self, idn: str) -> bool:
        """True if this dialect claims the instrument answering ``idn``."""
        return self._regex is not None and self._regex.search(idn) is not None

    def command(self, operation: str, **fields: str) -> str:
        """The SCPI string for ``operation``; InstrumentError if this model lacks it."""
        try:
            template = self.commands[operation]
        except KeyError:
            raise InstrumentError(
                f"dialect {self.name!r} has no command for {operation!r}"
            ) from None
        return template.format(**fields)


_GENERIC_COMMANDS: Mapping[str, str] = {
    "identify": "*IDN?",
    "reset": "*RST",
    "clear_status": "*CLS",
    "error_query": "SYST:ERR?",
    "input_on": "INP ON",
    "input_off": "INP OFF",
    "input_query": "INP?",
    "set_mode": "FUNC {mode}",
    "set_power": "POW {value}",
    "set_current": "CURR {value}",
    "set_resistance": "RES {value}",
    "measure_voltage": "MEAS:VOLT?",
    "measure_current": "MEAS:CURR?",
    "measure_power": "MEAS:POW?",
}
_GENERIC_MODES: Mapping[LoadMode, str] = {
    LoadMode.CC: "CURR",
    LoadMode.CP: "POW",
    LoadMode.CR: "RES",
}

GENERIC_SCPI = Dialect(
    name="generic-scpi",
    idn_pattern=None,
    commands=_GENERIC_COMMANDS,
    modes=_GENERIC_MODES,
    description="SCPI-1999 style load (INPut / FUNCtion / POWer / CURRent / MEASure)",
)

RIG_SIM = Dialect(
    name="rig-sim",
    idn_pattern=r"^rig,SimLoad-AC,",
    commands=_GENERIC_COMMANDS,
    modes=_GENERIC_MODES,
    description="rig's emulated AC load (rig.sim.scpi_server); generic-scpi command set",
)

#: Known dialects by name. Auto-selection tries them in this order.
DIALECTS: Mapping[str, Dialect] = MappingProxyType({d.name: d for d in (RIG_SIM, GENERIC_SCPI)})


def get_dialect(name: str) -> Dialect:
    """The dialect called ``name``; InstrumentError listing the known ones otherwise."""
    try:
        return DIALECTS[name]
    except KeyError:
        raise InstrumentError(
            f"unknown load dialect {name!r}; known dialects: {', '.join(DIALECTS)}"
        ) from None


def match_dialect(idn: str, *, resource: str = "?") -> Dialect:
    """The first dialect whose IDN pattern matches; InstrumentError naming the known ones."""
    for dialect in DIALECTS.values():
        if dialect.matches(idn):
            return dialect
    raise InstrumentError(
        f"{resource}: no load dialect matches *IDN? reply {idn!r}; known dialects: "
        f"{', '.join(DIALECTS)} (pass dialect=... to choose one explicitly)"
    )
