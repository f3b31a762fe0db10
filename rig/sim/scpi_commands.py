"""The SCPI command trees of the emulated load's dialects: which headers set the input, the
mode and the set points and read the measurements on a generic SCPI load, a Keysight N3300A
and a Chroma 63800 (each refuses the others' headers with -113). The IEEE 488.2 common
commands every dialect shares are the server's (scpi_server.py)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from rig.load.dialects import LoadMode
from rig.sim.emulated_load import EmulatedLoad, ScpiError
from rig.sim.scpi_parsing import Handler, limit_query, needs, number, parse_bool

#: adds one command to a table: ``add(spec, handler, query=..., parameter=...)``
Add = Callable[..., None]

_MODE_TOKENS = {
    "POW": LoadMode.CP, "POWER": LoadMode.CP, "CP": LoadMode.CP,
    "CURR": LoadMode.CC, "CURRENT": LoadMode.CC, "CC": LoadMode.CC,
    "RES": LoadMode.CR, "RESISTANCE": LoadMode.CR, "CR": LoadMode.CR,
}
_MODE_REPLY = {LoadMode.CP: "POW", LoadMode.CC: "CURR", LoadMode.CR: "RES"}
_CHROMA_MODE_NUMBERS = {"0": "CURR", "1": "POW", "3": "RES"}  # 2 VOLT / 4.. RLC: not emulated


def mode_setter(load: EmulatedLoad, aliases: dict[str, str] | None = None) -> Handler:
    def set_mode(arg: str | None) -> None:
        token = needs(arg).upper()
        mode = _MODE_TOKENS.get((aliases or {}).get(token, token))
        if mode is None or mode not in load.modes:
            raise ScpiError(-224, "Illegal parameter value")
        load.set_mode(mode)
    return set_mode


def _levels(load: EmulatedLoad, add: Add, prefix: str, level: str) -> None:
    """Set-point headers (``prefix`` + node + ``level``) for the modes this load offers."""
    lim, zero = load.limits, Decimal(0)
    if LoadMode.CP in load.modes:
        add(f"{prefix}POWer{level}",
            lambda a: load.set_power(number(a, lim.max_power, "W")), query=False)
        add(f"{prefix}POWer{level}",
            limit_query(zero, lim.max_power, lambda: load.power_setpoint),
            query=True, parameter=True)
    add(f"{prefix}CURRent{level}",
        lambda a: load.set_current(number(a, lim.max_current, "A")), query=False)
    add(f"{prefix}CURRent{level}",
        limit_query(zero, lim.max_current, lambda: load.current_setpoint),
        query=True, parameter=True)
    add(f"{prefix}RESistance{level}",
        lambda a: load.set_resistance(number(a, lim.max_resistance, "OHM",
                                              lim.min_resistance)), query=False)
    add(f"{prefix}RESistance{level}",
        limit_query(lim.min_resistance, lim.max_resistance, lambda: load.resistance_setpoint),
        query=True, parameter=True)


def _measurements(load: EmulatedLoad, add: Add, *, power: str) -> None:
    add("MEASure[:SCALar]:VOLTage[:AC]", lambda _: str(load.reading(0)), query=True)
    add("MEASure[:SCALar]:CURRent[:AC]", lambda _: str(load.reading(1)), query=True)
    add(power, lambda _: str(load.reading(2)), query=True)
    if load.model.pf_spec is not None:
        add("MEASure[:SCALar]:POWer:PFACtor", lambda _: str(load.measure_pf()), query=True)
    if load.model.energy:
        add("MEASure[:SCALar]:ENERgy", lambda _: str(load.energy_reading()), query=True)


def _scpi_tree(load: EmulatedLoad, add: Add) -> None:
    """generic-scpi, rig-sim, ITECH IT8600: INPut, [SOURce:]FUNCtion, SCPI levels."""
    add("INPut[:STATe]", lambda a: load.set_input(parse_bool(needs(a))), query=False)
    add("INPut[:STATe]", lambda _: "1" if load.input_on else "0", query=True)
    for spec in ("[SOURce:]FUNCtion[:MODE]", "[SOURce:]MODE"):
        add(spec, mode_setter(load), query=False)
        add(spec, lambda _: _MODE_REPLY[load.mode], query=True)
    _levels(load, add, "[SOURce:]", "[:LEVel][:IMMediate][:AMPLitude]")
    _measurements(load, add, power="MEASure[:SCALar]:POWer[:AC]")


def _keysight_tree(load: EmulatedLoad, add: Add) -> None:
    """Agilent/Keysight N3300A: MODE (FUNCtion alias), no POWer level, MEAS:...[:DC]?."""
    add("INPut[:STATe]", lambda a: load.set_input(parse_bool(needs(a))), query=False)
    add("INPut[:STATe]", lambda _: "1" if load.input_on else "0", query=True)
    for spec in ("MODE", "FUNCtion"):
        add(spec, mode_setter(load), query=False)
        add(spec, lambda _: _MODE_REPLY[load.mode], query=True)
    _levels(load, add, "", "[:LEVel][:IMMediate]")
    _measurements(load, add, power="MEASure[:SCALar]:POWer[:DC]")


def _chroma_tree(load: EmulatedLoad, add: Add) -> None:
    """Chroma 63800: [LOAD:]STATe, [LOAD:]MODE (names or numbers), set points under LOAD."""
    add("LOAD[:STATe]", lambda a: load.set_input(parse_bool(needs(a))), query=False)
    add("LOAD[:STATe]", lambda _: "1" if load.input_on else "0", query=True)
    add("[LOAD:]MODE", mode_setter(load, _CHROMA_MODE_NUMBERS), query=False)
    add("[LOAD:]MODE", lambda _: _MODE_REPLY[load.mode], query=True)
    _levels(load, add, "[LOAD:]", "")
    _measurements(load, add, power="MEASure[:SCALar]:POWer:REAL")


TABLES: dict[str, Callable[[EmulatedLoad, Add], None]] = {
    "rig-sim": _scpi_tree,
    "generic-scpi": _scpi_tree,
    "itech-it8600": _scpi_tree,
    "keysight-n3300": _keysight_tree,
    "chroma-63800": _chroma_tree,
}
