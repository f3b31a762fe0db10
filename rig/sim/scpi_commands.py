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


def _tree(state: str, modes: tuple[str, ...], prefix: str, level: str, power: str,
          mode_numbers: dict[str, str] | None = None) -> Callable[[EmulatedLoad, Add], None]:
    """A dialect's tree: the input ``state`` header, its ``modes`` headers (``mode_numbers``:
    numeric aliases), set points ``prefix`` + node + ``level``, and the ``power`` reading."""
    def build(load: EmulatedLoad, add: Add) -> None:
        add(state, lambda a: load.set_input(parse_bool(needs(a))), query=False)
        add(state, lambda _: "1" if load.input_on else "0", query=True)
        for spec in modes:
            add(spec, mode_setter(load, mode_numbers), query=False)
            add(spec, lambda _: _MODE_REPLY[load.mode], query=True)
        _levels(load, add, prefix, level)
        _measurements(load, add, power=power)
    return build


# generic-scpi, rig-sim, ITECH IT8600: INPut, [SOURce:]FUNCtion, SCPI levels
_SCPI = _tree("INPut[:STATe]", ("[SOURce:]FUNCtion[:MODE]", "[SOURce:]MODE"), "[SOURce:]",
              "[:LEVel][:IMMediate][:AMPLitude]", "MEASure[:SCALar]:POWer[:AC]")

TABLES: dict[str, Callable[[EmulatedLoad, Add], None]] = {
    "rig-sim": _SCPI,
    "generic-scpi": _SCPI,
    "itech-it8600": _SCPI,
    # Agilent/Keysight N3300A: MODE (FUNCtion alias), no POWer level, MEAS:...[:DC]?
    "keysight-n3300": _tree("INPut[:STATe]", ("MODE", "FUNCtion"), "", "[:LEVel][:IMMediate]",
                            "MEASure[:SCALar]:POWer[:DC]"),
    # Chroma 63800: [LOAD:]STATe, [LOAD:]MODE (names or numbers), set points under LOAD
    "chroma-63800": _tree("LOAD[:STATe]", ("[LOAD:]MODE",), "[LOAD:]", "",
                          "MEASure[:SCALar]:POWer:REAL", _CHROMA_MODE_NUMBERS),
}
