"""The meter's running information (ESAM file 0007) in the State Grid layout, and rig's record
around it for the billing centre.

**The State Grid part** (49 bytes) is laid out as public State Grid meter firmware lists it
(the ``CF_O_*InOP`` / ``CF_O_OPI_*`` offsets and ``CL_OPI = 49`` of the
``SecurityCommunication.h``-family headers, and the user card's return-write structure of the
same meters, which carries the same fields): ``68H``, command ``11H``, data length (2), user
type (1), current-transformer ratio (3), voltage-transformer ratio (3), meter number (6),
customer number (6), remaining amount (4), purchase count (4), overdraft amount (4), key
information (4: state, update method, key count, version), illegal card insertions (3), the
time it was written ``YYMMDDhhmm`` (5), checksum, ``16H``. rig's choices where those sources
give only a size: numbers and the time in BCD, amounts and counts binary (credit units, most
significant byte first, as the ESAM's wallet), the length field = the 43 bytes between it and
the checksum, the checksum = the byte sum from ``68H`` to the last data byte (as DL/T 645's).

**rig's extension** (38 bytes, tag ``58H`` version 1, rig's own) carries what the centre's
reconciliation takes and the State Grid file does not: energy, last sequence, cumulative
purchase, credit unit, relay and alarm flags, event counts, the time to the second, tariff
version and the last abnormal card insertion (error code, command header, SW1SW2). Then 8 bytes
of the meter's MAC under its readback key (rig's hierarchy, as the esam-cpu return-write
record's), so the centre verifies the record itself; the office verifies the ESAM's MAC on the
read-back with its key service.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from rig.card.keys import mac, mac_matches
from rig.card.readback_format import FIELDS as READBACK_FIELDS
from rig.errors import ProtocolError
from rig.esam.keys import KeyState

START, COMMAND, END = 0x68, 0x11, 0x16
INFO_LEN = 49
INFO_DATA_LEN = INFO_LEN - 6  # between the length field and the checksum
USER_TYPE_SINGLE_RATE = 0x01
NO_CUSTOMER = "000000000000"  # the customer number of an account not opened
EXTENSION_TAG, EXTENSION_VERSION = 0x58, 1
MAC_LEN = 8
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
UNIT_CODES = {"money_cents": 1, "energy_wh": 2}
UNIT_NAMES = {code: name for name, code in UNIT_CODES.items()}


class RunningInfoError(ProtocolError):
    """A running-information file that is not one; the message names the field."""


def _bcd(what: str, digits: str, size: int) -> bytes:
    if len(digits) != 2 * size or not digits.isdigit():
        raise ValueError(f"running information {what}: {digits!r} is not {2 * size} digits")
    return bytes.fromhex(digits)


def _digits(what: str, raw: bytes) -> str:
    text = raw.hex()
    if not text.isdigit():
        raise RunningInfoError(f"running information {what}: {raw.hex().upper()} is not BCD")
    return text


def _uint(what: str, value: int, size: int) -> bytes:
    if not 0 <= value < 1 << (8 * size):
        raise ValueError(f"running information {what}: {value} does not fit {size} bytes")
    return value.to_bytes(size, "big")


@dataclass(frozen=True)
class RunningInfo:
    """The 49-byte State Grid running-information file."""

    meter_no: str
    customer_no: str  # 000000000000: not opened
    remaining: int  # credit units
    purchase_count: int
    overdraft: int
    key_state: KeyState
    key_count: int
    illegal_cards: int
    written_at: datetime  # minutes: the meter clock when it wrote the file
    key_version: int = 0
    key_method: int = 0
    user_type: int = USER_TYPE_SINGLE_RATE
    ct_ratio: int = 1
    vt_ratio: int = 1

    def to_bytes(self) -> bytes:
        body = (bytes([START, COMMAND]) + INFO_DATA_LEN.to_bytes(2, "big")
                + _uint("user type", self.user_type, 1)
                + _bcd("CT ratio", f"{self.ct_ratio:06d}", 3)
                + _bcd("VT ratio", f"{self.vt_ratio:06d}", 3)
                + _bcd("meter number", self.meter_no, 6)
                + _bcd("customer number", self.customer_no, 6)
                + _uint("remaining", self.remaining, 4)
                + _uint("purchase count", self.purchase_count, 4)
                + _uint("overdraft", self.overdraft, 4)
                + bytes([self.key_state.code, self.key_method, self.key_count, self.key_version])
                + _bcd("illegal card insertions", f"{self.illegal_cards:06d}", 3)
                + _bcd("written at", self.written_at.strftime("%y%m%d%H%M"), 5))
        return body + bytes([sum(body) & 0xFF, END])

    @classmethod
    def decode(cls, raw: bytes) -> RunningInfo:
        if len(raw) != INFO_LEN:
            raise RunningInfoError(f"running information: {len(raw)} bytes, expected {INFO_LEN}")
        if raw[0] != START or raw[1] != COMMAND or raw[-1] != END:
            raise RunningInfoError(f"running information: framed {raw[0]:02X} {raw[1]:02X} .. "
                                   f"{raw[-1]:02X}, expected 68 11 .. 16")
        if int.from_bytes(raw[2:4], "big") != INFO_DATA_LEN:
            raise RunningInfoError(f"running information length {raw[2:4].hex().upper()}, "
                                   f"expected {INFO_DATA_LEN:04X}")
        if sum(raw[:47]) & 0xFF != raw[47]:
            raise RunningInfoError("running information checksum does not match")
        state = raw[35]
        if state not in (0, 1):
            raise RunningInfoError(f"running information key state {state:02X}: 00 or 01")
        try:
            written = datetime.strptime(_digits("written at", raw[42:47]), "%y%m%d%H%M")
        except ValueError as e:
            raise RunningInfoError(f"running information written at: {e}") from None
        return cls(_digits("meter number", raw[11:17]), _digits("customer number", raw[17:23]),
                   int.from_bytes(raw[23:27], "big"), int.from_bytes(raw[27:31], "big"),
                   int.from_bytes(raw[31:35], "big"), (KeyState.PUBLIC, KeyState.PRIVATE)[state],
                   raw[37], int(_digits("illegal card insertions", raw[39:42])), written,
                   key_version=raw[38], key_method=raw[36], user_type=raw[4],
                   ct_ratio=int(_digits("CT ratio", raw[5:8])),
                   vt_ratio=int(_digits("VT ratio", raw[8:11])))


@dataclass(frozen=True)
class AbnormalInsertion:
    """The meter's last refused card insertion: its error code, command header, SW1SW2."""

    code: int = 0
    command_header: bytes = bytes(5)
    status_word: int = 0


# The centre's readback fields the State Grid part does not carry, in rig's extension's order.
USAGE_FIELDS = ("energy_wh", "last_sequence", "cumulative_purchase", "credit_unit",
                "relay_open", "alarm_active", "alarm_count", "cutoff_count", "tamper_count",
                "power_down_count", "timestamp", "tariff_version")
WALLET_FIELDS = ("meter_no", "remaining", "overdraft", "purchase_count")  # the State Grid part's
_HEAD, _TAIL = ">BBIIIBB", ">HHHHIHB5sH"  # rig's extension: tag .. flags, counts .. SW1SW2


@dataclass(frozen=True)
class RunningRecord:
    """What file 0007 holds on rig's meter: the State Grid part, rig's extension (``usage``,
    the :data:`USAGE_FIELDS` values, and the last abnormal insertion), the readback MAC."""

    info: RunningInfo
    usage: Mapping[str, Any]
    abnormal: AbnormalInsertion = field(default_factory=AbnormalInsertion)
    mac: bytes = bytes(MAC_LEN)

    _EXT: ClassVar[str] = _HEAD + _TAIL[1:]
    SIZE: ClassVar[int] = INFO_LEN + struct.calcsize(_EXT) + MAC_LEN

    def signed(self) -> bytes:
        """The bytes the readback MAC covers: everything before it."""
        u, a = self.usage, self.abnormal
        missing = [name for name in USAGE_FIELDS if name not in u]
        if missing or u["credit_unit"] not in UNIT_CODES:
            raise ValueError(f"running record of meter {self.info.meter_no}: missing {missing} "
                             f"or credit unit {u.get('credit_unit')!r}")
        seconds = int((u["timestamp"] - EPOCH).total_seconds())
        try:
            ext = struct.pack(
                self._EXT, EXTENSION_TAG, EXTENSION_VERSION,
                *(u[n] for n in USAGE_FIELDS[:3]), UNIT_CODES[u["credit_unit"]],
                int(u["relay_open"]) | int(u["alarm_active"]) << 1,
                *(u[n] for n in USAGE_FIELDS[6:10]), seconds, u["tariff_version"],
                a.code, a.command_header.ljust(5, b"\0")[:5], a.status_word)
        except struct.error as e:
            raise ValueError(f"running record of meter {self.info.meter_no}: {e}") from None
        return self.info.to_bytes() + ext

    def to_bytes(self) -> bytes:
        return self.signed() + self.mac

    def sign(self, key: bytes) -> RunningRecord:
        """This record with the meter's MAC under its readback MAC key ``key``."""
        return replace(self, mac=mac(key, self.signed()))

    def mac_ok(self, key: bytes) -> bool:
        return mac_matches(key, self.signed(), self.mac)

    @classmethod
    def decode(cls, raw: bytes) -> RunningRecord:
        if len(raw) != cls.SIZE:
            raise RunningInfoError(f"running record: {len(raw)} bytes, expected {cls.SIZE}")
        info = RunningInfo.decode(raw[:INFO_LEN])
        middle = INFO_LEN + struct.calcsize(_HEAD)
        (tag, version, *counts, unit, flags) = struct.unpack(_HEAD, raw[INFO_LEN:middle])
        (*events, seconds, tariff, code, header, sw) = struct.unpack(_TAIL, raw[middle:-MAC_LEN])
        if (tag, version) != (EXTENSION_TAG, EXTENSION_VERSION):
            raise RunningInfoError(f"running record extension {tag:02X} {version:02X}: rig's "
                                   f"is {EXTENSION_TAG:02X} {EXTENSION_VERSION:02X}")
        if unit not in UNIT_NAMES:
            raise RunningInfoError(f"running record credit unit code {unit}")
        usage = dict(zip(USAGE_FIELDS, (*counts, UNIT_NAMES[unit], bool(flags & 1),
                                        bool(flags & 2), *events,
                                        EPOCH + timedelta(seconds=seconds), tariff), strict=True))
        return cls(info, usage, AbnormalInsertion(code, header, sw), raw[-MAC_LEN:])

    def readback_fields(self) -> dict[str, Any]:
        """The values the centre's reconciliation takes, named as ``ReadbackData`` names them:
        the wallet's from the State Grid part, the rest from rig's extension."""
        wallet = {name: getattr(self.info, name) for name in WALLET_FIELDS}
        return {name: wallet[name] if name in wallet else self.usage[name]
                for name in READBACK_FIELDS}
