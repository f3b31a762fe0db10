"""DL/T 645-2007 meter protocol: frames, data identifiers, client (rig) and responder (emulator).

Importing this package does not import pyserial; only ``Dlt645Client.open`` does.
"""

from rig.meter.dlt645.client import (
    DEFAULT_OPERATOR,
    DEFAULT_PASSWORD,
    Dlt645Client,
    MeterAbnormalReply,
    MeterTimeout,
    RelayCommand,
    SecurityRefused,
    SerialPort,
)
from rig.meter.dlt645.data_ids import (
    REGISTRY,
    AbnormalCardRecord,
    DataFormatError,
    DataId,
    Kind,
    UnknownDataId,
    decode_value,
    di_from_bytes,
    di_to_bytes,
    encode_value,
    lookup,
)
from rig.meter.dlt645.frame import (
    BROADCAST_ADDRESS,
    WILDCARD_ADDRESS,
    Frame,
    FrameError,
    FrameParser,
    decode_error_word,
    decode_frame,
    encode_frame,
    function_code,
    is_abnormal,
    is_reply,
)
from rig.meter.dlt645.server import Dlt645Responder, RegisterBank, SecurityBank

__all__ = [
    "BROADCAST_ADDRESS",
    "DEFAULT_OPERATOR",
    "DEFAULT_PASSWORD",
    "REGISTRY",
    "WILDCARD_ADDRESS",
    "AbnormalCardRecord",
    "DataFormatError",
    "DataId",
    "Dlt645Client",
    "Dlt645Responder",
    "Frame",
    "FrameError",
    "FrameParser",
    "Kind",
    "MeterAbnormalReply",
    "MeterTimeout",
    "RegisterBank",
    "RelayCommand",
    "SecurityBank",
    "SecurityRefused",
    "SerialPort",
    "UnknownDataId",
    "decode_error_word",
    "decode_frame",
    "decode_value",
    "di_from_bytes",
    "di_to_bytes",
    "encode_frame",
    "encode_value",
    "function_code",
    "is_abnormal",
    "is_reply",
    "lookup",
]
