"""The catalogue: every family's defects joined, looked up by name, filtered by profile and
installed.

A new family of defects is a module ending in a ``DEFECTS`` tuple of `Defect`s, imported here
and added to `CATALOGUE` with one line each (names must stay unique: a clash fails at import).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from rig.errors import ConfigError
from rig.profile import MeterProfile
from rig.sim.defects import (
    alarms_and_relay,
    card_terminal,
    credit_and_metering,
    esam_meter,
    protocol,
    readback,
    receipt_printer,
    sts_tokens,
    supply_and_cover,
)
from rig.sim.defects.entry import Defect

if TYPE_CHECKING:
    from rig.sim.emulated_printer import EmulatedPrinter
    from rig.sim.meter_firmware import EmulatedMeter

CATALOGUE: tuple[Defect, ...] = (
    *alarms_and_relay.DEFECTS,
    *credit_and_metering.DEFECTS,
    *card_terminal.DEFECTS,
    *readback.DEFECTS,
    *protocol.DEFECTS,
    *supply_and_cover.DEFECTS,
    *receipt_printer.DEFECTS,
    *sts_tokens.DEFECTS,
    *esam_meter.DEFECTS,
)

DEFECTS: dict[str, Defect] = {d.name: d for d in CATALOGUE}
_CLASHES = sorted(name for name, n in Counter(d.name for d in CATALOGUE).items() if n > 1)
if _CLASHES:
    raise ImportError(f"defects catalogued twice under one name: {', '.join(_CLASHES)}")


def defect(name: str) -> Defect:
    """The catalogue entry `name` (ConfigError naming the known ones)."""
    try:
        return DEFECTS[name]
    except KeyError:
        raise ConfigError(f"unknown meter defect {name!r} (known: {', '.join(DEFECTS)})") \
            from None


def applicable(profile: MeterProfile) -> list[Defect]:
    """The defects a meter of `profile` can carry (e.g. no power-limit defect without one)."""
    return [d for d in CATALOGUE if d.applies(profile)]


def install(meter: EmulatedMeter, name: str, printer: EmulatedPrinter | None = None) -> None:
    """Give `meter` (or, for a printer defect, the bench's `printer`) the defect `name`
    (before the bench starts serving it)."""
    entry = defect(name)
    if not entry.applies(meter.profile):
        raise ConfigError(f"meter defect {name!r} does not apply to profile "
                          f"{meter.profile.name!r} (it lacks what the defect breaks)")
    if entry.part == "printer":
        if printer is None:
            raise ConfigError(f"defect {name!r} breaks the receipt printer: this bench has none")
        entry.install(printer)
        return
    entry.install(meter)
