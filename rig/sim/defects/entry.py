"""What a catalogued defect is: a name, the requirement that must catch it, how it gets into
the part it breaks and which meters can have it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rig.profile import MeterProfile


@dataclass(frozen=True)
class Defect:
    """One known defect: what the meter (or the station's receipt printer on the bench, for
    the one requirement that certifies it) does wrong and the requirement that must catch it."""

    name: str
    requirement: str  # the certification test (docs/certification.md) that must fail on it
    what: str
    install: Callable[[Any], None]  # given the part it breaks: the meter, or the printer
    applies: Callable[[MeterProfile], bool] = lambda p: True
    part: str = "meter"  # "meter" | "printer"
