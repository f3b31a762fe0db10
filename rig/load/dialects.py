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
    "event_status_query",  # query, IEEE 488.2 *ESR?: standard event status register (clears it)
    "status_byte_query",  # query, IEEE 488.2 *STB?: status byte
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
    "measure_pf",  # query, power factor (AC loads)
    "measure_energy",  # query, accumulated energy in Wh
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
    #: VISA I/O timeout the model needs (ms); ``ElectronicLoad.open(timeout_ms=None)`` uses it
    timeout_ms: int = 2000
    #: a ``*IDN?`` reply as the model gives it (documentation, tests, the emulated load)
    idn_example: str = ""
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


# IEEE 488.2 common commands + SCPI error queue. *ESR? and *STB? are mandatory in IEEE 488.2
# (10.12, 10.36) and every family below is a 488.2 instrument (GPIB interface); their manuals'
# common-command chapters list them, not checked here command by command (docs/load.md).
_COMMON: Mapping[str, str] = {
    "identify": "*IDN?",
    "reset": "*RST",
    "clear_status": "*CLS",
    "error_query": "SYST:ERR?",
    "event_status_query": "*ESR?",
    "status_byte_query": "*STB?",
}

_GENERIC_COMMANDS: Mapping[str, str] = {
    **_COMMON,
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
    idn_example="ACME,L1,42,1.0",
    description="SCPI-1999 style load (INPut / FUNCtion / POWer / CURRent / MEASure)",
)

RIG_SIM = Dialect(
    name="rig-sim",
    idn_pattern=r"^rig,SimLoad-AC,",
    commands={
        **_GENERIC_COMMANDS,
        "measure_pf": "MEAS:POW:PFAC?",
        "measure_energy": "MEAS:ENER?",  # rig's own query: Wh drawn since power-on
    },
    modes=_GENERIC_MODES,
    idn_example="rig,SimLoad-AC,SIM0001,0.1.0",
    description="rig's emulated AC load: generic-scpi plus power factor and energy (Wh)",
)

# Chroma 63800 Operation & Programming Manual, ch. 8: "[LOAD:]MODE" with CURR|POW|VOLT|RES|RLC...,
# "[LOAD:]STATe" (LOAD ON|OFF), set points under the optional LOAD node, "*IDN?" replies like
# "Chroma, 63804, 0, 1.00"; MEAS:POW:REAL? / MEAS:POW:PFAC? as used by public 63800 drivers.
CHROMA_63800 = Dialect(
    name="chroma-63800",
    idn_pattern=r"(?i)^\s*chroma\s*,\s*638\d\d",
    commands={
        **_COMMON,
        "input_on": "LOAD ON",
        "input_off": "LOAD OFF",
        "input_query": "LOAD?",
        "set_mode": "MODE {mode}",
        "set_power": "POW {value}",
        "set_current": "CURR {value}",
        "set_resistance": "RES {value}",
        "measure_voltage": "MEAS:VOLT?",
        "measure_current": "MEAS:CURR?",
        "measure_power": "MEAS:POW:REAL?",
        "measure_pf": "MEAS:POW:PFAC?",
    },
    modes={LoadMode.CC: "CURR", LoadMode.CP: "POW", LoadMode.CR: "RES"},
    idn_example="Chroma, 63804, 0, 1.00",
    description="Chroma 63802/63803/63804 AC/DC load (AC mode; CC is RMS current)",
)

# ITECH IT8600 Programming Guide: [SOURce:]FUNCtion CURR|RES|VOLT|POW, [SOURce:]POWer|CURRent|
# RESistance[:LEVel][:IMMediate][:AMPLitude], INPut[:STATe], MEASure:...:PFACtor?, SYST:ERR?.
ITECH_IT8600 = Dialect(
    name="itech-it8600",
    idn_pattern=r"(?i)^\s*itech[^,]*,\s*IT86\d\d",
    commands={
        **_GENERIC_COMMANDS,
        "measure_pf": "MEAS:POW:PFAC?",
    },
    modes=_GENERIC_MODES,
    idn_example="ITECH Ltd., IT8615, 800001010727510011, 1.09-1.04",
    description="ITECH IT8615/IT8616/IT8617/IT862x AC/DC load",
)

# Agilent/Keysight N3300A family (and the 6050A/6060B it succeeds): MODE CURR|RES|VOLT (FUNCtion
# is an alias), INPut[:STATe], CURRent/RESistance levels, MEASure:CURR|VOLT|POW? — no CP mode.
KEYSIGHT_N3300 = Dialect(
    name="keysight-n3300",
    idn_pattern=(r"(?i)^\s*(agilent technologies|keysight technologies|hewlett-packard)\s*,"
                 r"\s*(N33\d\dA|60[56]\d[AB])"),
    commands={
        **_COMMON,
        "input_on": "INP ON",
        "input_off": "INP OFF",
        "input_query": "INP?",
        "set_mode": "MODE {mode}",
        "set_current": "CURR {value}",
        "set_resistance": "RES {value}",
        "measure_voltage": "MEAS:VOLT?",
        "measure_current": "MEAS:CURR?",
        "measure_power": "MEAS:POW?",
    },
    modes={LoadMode.CC: "CURR", LoadMode.CR: "RES"},
    idn_example="Agilent Technologies,N3301A,MY12345678,A.01.02",
    description="Agilent/Keysight N3300A-family DC load (CC/CR/CV; no constant power)",
)

#: Known dialects by name. Auto-selection tries them in this order.
DIALECTS: Mapping[str, Dialect] = MappingProxyType({
    d.name: d for d in (RIG_SIM, CHROMA_63800, ITECH_IT8600, KEYSIGHT_N3300, GENERIC_SCPI)
})


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
