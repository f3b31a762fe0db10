"""Installing a defect: the class of one firmware part swapped for a subclass with one wrong
method, so the reference firmware carries no defect switches."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rig.card_formats.rigpp.meter import MeterCardTerminal
    from rig.card_formats.sle4442.reader import SLE4442MeterReader
    from rig.sim.meter_firmware import EmulatedMeter
    from rig.sim.prepaid import PrepaidEngine

Install = Callable[["EmulatedMeter"], None]


def engine(cls: type[PrepaidEngine]) -> Install:
    """The meter's prepaid engine becomes a `cls`."""
    def install(meter: EmulatedMeter) -> None:
        meter.engine.__class__ = cls
    return install


def terminal(cls: type[MeterCardTerminal | SLE4442MeterReader]) -> Install:
    """The meter's card reader becomes a `cls`."""
    def install(meter: EmulatedMeter) -> None:
        meter.terminal.__class__ = cls
    return install


def meter(make: Callable[[type[EmulatedMeter]], type[EmulatedMeter]]) -> Install:
    """Swap the meter's class for `make(reference class)` (imported late: the firmware module
    imports this catalogue's users)."""
    def install(meter: EmulatedMeter) -> None:
        from rig.sim.meter_firmware import EmulatedMeter as Reference

        meter.__class__ = make(Reference)
    return install
