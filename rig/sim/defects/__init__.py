"""The defect catalogue: emulated meters that each carry one known defect ("mutants").

A certification suite is worth what it catches. Each defect here is one way a real prepaid
meter's firmware can be wrong, tied to the certified requirement whose scenario must fail on
it (docs/certification.md, "Mutant meters"). `rig sim --defect NAME` and a bench config's
`defect = "NAME"` start an emulated meter with it; `rig run --suite mutants` runs the suite
against every defect that applies to a profile and writes the kill matrix.

A defect is a subclass of one firmware part (the prepaid engine, the card terminal or the
meter) that overrides one method; installing it swaps the part's class (`parts.py`), so the
reference firmware has no defect switches in it. Deviations are sized to exceed the tolerance
the suite declares for the requirement (docs/certification.md, "How scenarios judge a meter"):
10 % of an alarm level, a cut-off 10 % of alarm 2 off, twice the accuracy class in
metrology; a defect inside the declared tolerance is not one the standard asks to catch.

One module per family of what a meter gets wrong, each ending in its ``DEFECTS`` tuple;
`registry.py` joins the families into the catalogue (a new family is one line there;
`entry.py` is the `Defect` type a family builds on):

- `alarms_and_relay.py`   alarm levels, cut-off and reclosing, emergency credit, friendly
                          periods, the power limit (the prepaid engine's relay decisions)
- `credit_and_metering.py` what a purchase, a tariff, a parameter level or the metrology
                          puts in the registers, the hoarding limit
- `card_terminal.py`      the card reader: replay, another meter's card, MACs, key change
                          cards, parameter cards, a slow card session
- `readback.py`           the usage data the meter writes back onto the card
- `protocol.py`           DL/T 645 registers, status word and abnormal replies
- `supply_and_cover.py`   non-volatile memory at a supply cut, power-up, the terminal cover
- `sts_tokens.py`         a keypad meter's STS token acceptance
- `receipt_printer.py`    the station's receipt printer on the bench
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rig.sim.defects.entry import Defect

if TYPE_CHECKING:
    from rig.sim.defects.registry import CATALOGUE, DEFECTS, applicable, defect, install

__all__ = ["CATALOGUE", "DEFECTS", "Defect", "applicable", "defect", "install"]


def __getattr__(name: str) -> Any:
    """The catalogue's names, imported on first use: a family module outside this package
    (``from rig.sim.defects import Defect``) then imports without a cycle, whichever of it
    and the catalogue is imported first."""
    if name in __all__:
        from rig.sim.defects import registry

        return getattr(registry, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
