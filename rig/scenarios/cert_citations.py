"""Which clauses of the payment-meter standards each certified requirement tests.

Clause numbers and titles are facts taken from the published tables of contents (IEC
62055-31:2022, *Electricity metering – Payment systems – Part 31: Particular requirements –
Static payment meters for active energy (classes 0,5, 1 and 2)*, as BS EN IEC 62055-31:2022's
catalogue page lists it to 7.6.3; its Annex A, informative, holds the basic functional
requirements and tests of the prepayment mode and is listed there only as a whole). No text
of a standard is reproduced. docs/certification.md, "IEC 62055-31 clauses per scenario",
shows the same table; tests/scenarios/test_cert_citations.py keeps the two, and the
scenarios' docstrings, in step with this module.
"""

from __future__ import annotations

from dataclasses import dataclass

IEC_62055_31 = "IEC 62055-31:2022"


@dataclass(frozen=True)
class Clause:
    standard: str
    number: str  # "5.8.2", "Annex A", "clause 4"
    title: str

    def __str__(self) -> str:
        return f"{self.standard} {self.number} {self.title}".rstrip()


def _iec(number: str, title: str) -> Clause:
    return Clause(IEC_62055_31, number, title)


SWITCHES = _iec("3.5", "Switches of metering equipment")
TIMEKEEPING = _iec("3.6", "Timekeeping and tariff control")
DISPLAY = _iec("5.4.1", "Display of measured values: General")
INDICATORS = _iec("5.4.3", "Indicators")
STORAGE = _iec("5.5", "Storage of measured values")
TOKEN_INTERFACE = _iec("5.8.1", "Token carrier interface: General")
ACCEPTOR = _iec("5.8.2", "Token carrier acceptor")
KEYPAD = _iec("5.8.3", "Keypad interface")
DIPS = _iec("7.2.2", "Voltage dips and short interruptions")
ANNEX_A = _iec("Annex A", "(informative) basic functional requirements and tests for the "
               "prepayment mode of operation")
STS = Clause("IEC 62055-41", "", "Standard transfer specification: application layer "
             "protocol for one-way token carrier systems (token identifier, key change)")
QGDW = Clause("Q/GDW 1354-2013", "clause 4", "meter functional requirements (cost control, "
              "event records, communication)")
QGDW_CARD = Clause("Q/GDW 1354-2013", "Annex C", "the flow of the cost-control function")
DLT645 = Clause("DL/T 645-2007", "", "abnormal reply (error word) of a slave station")
ACCURACY = Clause("IEC 62053-21", "", "accuracy class of the energy register (by reference)")

CITATIONS: dict[str, tuple[Clause, ...]] = {
    "buy and insert": (TOKEN_INTERFACE, ACCEPTOR, DISPLAY, ANNEX_A, QGDW_CARD),
    "replayed card is not applied twice": (ACCEPTOR, ANNEX_A, QGDW_CARD),
    "card for another meter is refused": (ACCEPTOR, INDICATORS, ANNEX_A, QGDW_CARD),
    "reconciliation over several cycles": (DISPLAY, STORAGE, ANNEX_A, ACCURACY),
    "alarms at predicted times": (INDICATORS, SWITCHES, ANNEX_A, QGDW),
    "cutoff and reconnection": (SWITCHES, DIPS, ANNEX_A, QGDW),
    "emergency credit": (INDICATORS, SWITCHES, ANNEX_A, QGDW),
    "friendly period": (TIMEKEEPING, SWITCHES, ANNEX_A, QGDW),
    "forged mac is refused": (ACCEPTOR, ANNEX_A, QGDW_CARD),
    "hoarding limit refusal": (ACCEPTOR, ANNEX_A),
    "key change card moves the meter to the next key revision": (ACCEPTOR, ANNEX_A, STS),
    "parameter card changes thresholds": (ACCEPTOR, INDICATORS, ANNEX_A, QGDW),
    "power limit trip and recovery": (SWITCHES, QGDW),
    "tariff change at its effective date": (TIMEKEEPING, ANNEX_A, QGDW),
    "receipt printer": (),  # the vending station's printer, not the meter: no meter clause
    "power failure during a card insertion": (DIPS, STORAGE, ACCEPTOR, ANNEX_A, QGDW_CARD),
    "power failure during consumption": (DIPS, STORAGE, SWITCHES, ACCURACY),
    "terminal cover opening is recorded": (QGDW,),
    "unknown register is answered with an error": (DLT645, QGDW),
    "card session within 3 s": (ACCEPTOR, QGDW_CARD),
    "key update moves the meter to the private key state": (ACCEPTOR, ANNEX_A, QGDW_CARD),
    "purchase two ahead is refused after the return write": (ACCEPTOR, ANNEX_A, QGDW_CARD),
    "sts credit token is accepted": (KEYPAD, INDICATORS, ANNEX_A, STS),
    "sts used token is refused": (KEYPAD, INDICATORS, ANNEX_A, STS),
    "sts old token is refused": (KEYPAD, INDICATORS, ANNEX_A, STS),
    "sts token made for a different meter is refused": (KEYPAD, INDICATORS, ANNEX_A, STS),
    "sts key change then a token under the new key": (KEYPAD, ANNEX_A, STS),
    "sts rollover to the next base date": (KEYPAD, ANNEX_A, STS),
}

# IEC 62055-31:2022 clauses no bench of rig can test, and why (clauses 1-4 - scope,
# references, definitions, nominal values - state no test of their own).
NOT_TESTABLE: tuple[tuple[Clause, str], ...] = (
    (_iec("5.2", "Clearance and creepage distances"),
     "construction: measured on the meter itself, not through its interfaces"),
    (_iec("5.3", "Protection against penetration of dust and water"),
     "IP type test in a laboratory enclosure"),
    (_iec("5.4.2", "Minimum display capability"),
     "the LCD's digits and symbols: inspection (rig reads the registers over the meter's "
     "protocol, never its display)"),
    (_iec("5.6", "Output device"), "the test output (LED or pulse): needs a photo head or "
     "pulse input a bench of rig does not have"),
    (_iec("5.7", "Marking of the meter"), "nameplate: inspection"),
    (_iec("6", "Climatic conditions (6.1-6.5)"), "climatic chamber type tests"),
    (_iec("7.2.1", "Voltage range(s)"), "needs a programmable AC source feeding the meter; an "
     "emulated bench models the supply as on or off"),
    (_iec("7.2.2", "Voltage dips and short interruptions (as electrical tests)"),
     "the timed dips of a programmable source; rig cuts the supply as a whole (on a real "
     "bench by the operator), which certifies what the meter keeps, not its ride-through"),
    (_iec("7.2.3", "Abnormal voltage conditions"), "programmable source and safety lab"),
    (_iec("7.3", "Heating"), "thermal type test at rated current"),
    (_iec("7.4", "Insulation"), "impulse and AC voltage withstand: a high-voltage lab"),
    (_iec("7.5", "Long Term Over Voltage Withstand"), "programmable source, hours at "
     "over-voltage"),
    (_iec("7.6", "Electromagnetic compatibility (EMC)"), "EMC laboratory (ESD, fields, "
     "bursts, surges, emission)"),
    (_iec("(number not checked)", "supply control switch at minimum and maximum switched "
          "current"),
     "needs a load that draws the switch's rated extremes through a real switch; the "
     "emulated load is a model and a real bench's load sets the limit (the clause number "
     "after 7.6.3 could not be checked against a public table of contents)"),
)


def citations(requirement: str) -> tuple[Clause, ...]:
    """The clauses `requirement` certifies (KeyError for a requirement without a row)."""
    return CITATIONS[requirement]


def cite(requirement: str) -> str:
    """The citation as the scenario's docstring and docs/certification.md give it: each
    standard once, its clause numbers after it ("IEC 62055-31:2022 5.8.2, Annex A; ...")."""
    numbers: dict[str, list[str]] = {}
    for c in CITATIONS[requirement]:
        numbers.setdefault(c.standard, [])
        if c.number:
            numbers[c.standard].append(c.number)
    return "; ".join(" ".join((std, ", ".join(n))).strip() for std, n in numbers.items())


def iec_numbers(requirement: str) -> list[str]:
    """The IEC 62055-31 clause numbers `requirement` certifies, as its docstring cites them."""
    return [c.number for c in CITATIONS[requirement] if c.standard == IEC_62055_31]
