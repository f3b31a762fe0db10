"""IEC 62056-21 mode C: messages and BCC, client (rig) and responder (emulated meter).

Importing this package does not import pyserial; only ``Iec62056Client.open`` does.
"""

from rig.meter.iec62056.client import Iec62056Client, MeterErrorReply
from rig.meter.iec62056.frames import (
    DataSet,
    Identification,
    Iec62056Error,
    bcc,
    parse_datasets,
    strip_even_parity,
    with_even_parity,
)
from rig.meter.iec62056.server import DataBank, Iec62056Responder

__all__ = [
    "DataBank",
    "DataSet",
    "Identification",
    "Iec62056Client",
    "Iec62056Error",
    "Iec62056Responder",
    "MeterErrorReply",
    "bcc",
    "parse_datasets",
    "strip_even_parity",
    "with_even_parity",
]
