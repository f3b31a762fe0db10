"""Programmable electronic load: generic VISA/SCPI driver plus per-model dialects."""

from rig.load.dialects import DIALECTS, Dialect, LoadMode, get_dialect, match_dialect
from rig.load.driver import ElectronicLoad, Identity, Measurement

__all__ = [
    "DIALECTS",
    "Dialect",
    "ElectronicLoad",
    "Identity",
    "LoadMode",
    "Measurement",
    "get_dialect",
    "match_dialect",
]
