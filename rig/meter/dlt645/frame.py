"""DL/T 645-2007 link-layer frames: build, check and parse.

Wire layout (after an optional FE preamble that wakes up the meter's UART)::

    68 A0 A1 A2 A3 A4 A5 68 C L DATA(+33H each byte) CS 16

``A0`` is the least significant BCD byte of the 12-digit nameplate address, ``CS`` is the byte sum
(mod 256) from the first ``68`` through the last data byte.  ``Frame.data`` always holds the
*plain* data: the +33H offset exists only on the wire, so every other layer can ignore it.
"""

from __future__ import annotations

from dataclasses import dataclass

from rig.errors import ProtocolError

START = 0x68
END = 0x16
PREAMBLE_BYTE = 0xFE
DATA_OFFSET = 0x33
MAX_DATA_LENGTH = 200  # the standard's maximum L for DL/T 645-2007
HEADER_LENGTH = 10  # 68 + 6 address + 68 + C + L
OVERHEAD = 12  # header + CS + 16

WILDCARD_ADDRESS = "AAAAAAAAAAAA"
BROADCAST_ADDRESS = "999999999999"

# Function codes (control code bits D4..D0) of master requests.
CONTROL_BROADCAST_TIME = 0x08
CONTROL_READ_DATA = 0x11
CONTROL_READ_FOLLOWUP = 0x12
CONTROL_READ_ADDRESS = 0x13
CONTROL_WRITE_DATA = 0x14
CONTROL_WRITE_ADDRESS = 0x15
CONTROL_FREEZE = 0x16
CONTROL_CHANGE_BAUD = 0x17
CONTROL_CHANGE_PASSWORD = 0x18
CONTROL_CLEAR_DEMAND = 0x19
CONTROL_CLEAR_METER = 0x1A
CONTROL_CLEAR_EVENTS = 0x1B
CONTROL_RELAY_CONTROL = 0x1C

# Control code flag bits.
DIR_REPLY = 0x80  # D7: 1 = sent by the slave (meter)
ABNORMAL = 0x40  # D6: 1 = abnormal (error) reply
FOLLOWUP = 0x20  # D5: 1 = more data follows in a follow-up frame
FUNCTION_MASK = 0x1F

# Abnormal-reply error word (one byte, data of a 0xC0|fn reply).
ERR_OTHER = 0x01
ERR_NO_DATA = 0x02
ERR_PASSWORD = 0x04
ERR_BAUD_NOT_CHANGEABLE = 0x08
ERR_YEAR_ZONES_EXCEEDED = 0x10
ERR_DAILY_SLOTS_EXCEEDED = 0x20
ERR_TARIFFS_EXCEEDED = 0x40

ERROR_WORD_REASONS: dict[int, str] = {
    ERR_OTHER: "other error",
    ERR_NO_DATA: "no requested data",
    ERR_PASSWORD: "password error / unauthorised",
    ERR_BAUD_NOT_CHANGEABLE: "baud rate cannot be changed",
    ERR_YEAR_ZONES_EXCEEDED: "number of year time zones exceeded",
    ERR_DAILY_SLOTS_EXCEEDED: "number of daily time slots exceeded",
    ERR_TARIFFS_EXCEEDED: "number of tariffs exceeded",
}


def decode_error_word(word: int) -> list[str]:
    """Human-readable reasons for each bit set in an abnormal-reply error word."""
    reasons = [text for bit, text in ERROR_WORD_REASONS.items() if word & bit]
    if word & 0x80:
        reasons.append("reserved bit 7")
    return reasons or ["no error bit set"]


class FrameError(ProtocolError):
    """A malformed DL/T 645 frame; the message names the fault and shows the frame hex."""

    def __init__(self, fault: str, raw: bytes | bytearray = b"") -> None:
        self.fault = fault
        self.raw = bytes(raw)
        message = fault if not raw else f"{fault} in frame {self.raw.hex(' ').upper()}"
        super().__init__(message)


def is_reply(control: int) -> bool:
    return bool(control & DIR_REPLY)


def is_abnormal(control: int) -> bool:
    return bool(control & ABNORMAL)


def has_followup(control: int) -> bool:
    return bool(control & FOLLOWUP)


def function_code(control: int) -> int:
    return control & FUNCTION_MASK


_ADDRESS_CHARS = frozenset("0123456789A")


def _normalise_address(address: str) -> str:
    if not isinstance(address, str):
        raise FrameError(f"meter address must be a 12-character string, not {address!r}")
    upper = address.upper()
    if len(upper) != 12 or not set(upper) <= _ADDRESS_CHARS:
        raise FrameError(
            f"meter address {address!r} must be 12 characters of 0-9 or the wildcard 'A'"
        )
    return upper


def address_to_bytes(address: str) -> bytes:
    """Nameplate address -> 6 wire bytes, A0 (last two digits) first."""
    text = _normalise_address(address)
    return bytes(int(text[i : i + 2], 16) for i in range(10, -1, -2))


def address_from_bytes(raw: bytes | bytearray) -> str:
    """6 wire bytes (A0 first) -> nameplate address; nibbles B-F are not addresses."""
    if len(raw) != 6:
        raise FrameError(f"address field must be 6 bytes, got {len(raw)}", raw)
    text = bytes(reversed(raw)).hex().upper()
    if not set(text) <= _ADDRESS_CHARS:
        raise FrameError(f"address field {text} is not BCD digits or wildcard A", raw)
    return text


def address_matches(pattern: str, address: str) -> bool:
    """True if ``address`` matches ``pattern`` where 'A' digits in the pattern match anything."""
    return all(p in ("A", a) for p, a in zip(pattern.upper(), address.upper(), strict=True))


@dataclass(frozen=True)
class Frame:
    """One DL/T 645-2007 frame with plain (un-offset) data."""

    address: str
    control: int
    data: bytes = b""

    def __post_init__(self) -> None:
        object.__setattr__(self, "address", _normalise_address(self.address))
        object.__setattr__(self, "data", bytes(self.data))
        if not 0 <= self.control <= 0xFF:
            raise FrameError(f"control code {self.control!r} is not a byte")

    @property
    def is_reply(self) -> bool:
        return is_reply(self.control)

    @property
    def is_abnormal(self) -> bool:
        return is_abnormal(self.control)

    @property
    def has_followup(self) -> bool:
        return has_followup(self.control)

    @property
    def function_code(self) -> int:
        return function_code(self.control)

    def __str__(self) -> str:
        data = self.data.hex(" ").upper() or "-"
        return f"Frame(addr={self.address} C={self.control:02X} data={data})"


def checksum(raw: bytes | bytearray) -> int:
    return sum(raw) & 0xFF


def encode_frame(frame: Frame, preamble: int = 4) -> bytes:
    """Wire bytes for ``frame``: FE x preamble, header, offset data, CS, 16."""
    if len(frame.data) > MAX_DATA_LENGTH:
        raise FrameError(
            f"data length {len(frame.data)} exceeds the DL/T 645-2007 maximum of "
            f"{MAX_DATA_LENGTH} bytes"
        )
    if preamble < 0:
        raise ValueError(f"preamble must be >= 0, not {preamble}")
    body = bytearray([START])
    body += address_to_bytes(frame.address)
    body += bytes([START, frame.control, len(frame.data)])
    body += bytes((b + DATA_OFFSET) & 0xFF for b in frame.data)
    body.append(checksum(body))
    body.append(END)
    return bytes([PREAMBLE_BYTE]) * preamble + bytes(body)


def _parse_exact(raw: bytes | bytearray) -> Frame:
    """Parse ``raw`` that starts at the first 68 and is exactly one frame long."""
    if len(raw) < OVERHEAD:
        raise FrameError(f"frame too short ({len(raw)} bytes, minimum {OVERHEAD})", raw)
    if raw[0] != START:
        raise FrameError(f"first start byte is {raw[0]:02X}, expected 68", raw)
    if raw[7] != START:
        raise FrameError(f"second start byte is {raw[7]:02X}, expected 68", raw)
    length = raw[9]
    if length > MAX_DATA_LENGTH:
        raise FrameError(f"length field {length} exceeds {MAX_DATA_LENGTH}", raw)
    expected = OVERHEAD + length
    if len(raw) != expected:
        raise FrameError(f"length mismatch: L={length} needs {expected} bytes, got {len(raw)}", raw)
    cs = checksum(raw[: HEADER_LENGTH + length])
    if raw[-2] != cs:
        raise FrameError(f"bad checksum {raw[-2]:02X}, computed {cs:02X}", raw)
    if raw[-1] != END:
        raise FrameError(f"bad end byte {raw[-1]:02X}, expected 16", raw)
    address = address_from_bytes(raw[1:7])
    data = bytes((b - DATA_OFFSET) & 0xFF for b in raw[HEADER_LENGTH : HEADER_LENGTH + length])
    return Frame(address, raw[8], data)


def decode_frame(raw: bytes | bytearray) -> Frame:
    """Decode exactly one frame (FE preamble allowed); anything else is a FrameError."""
    start = 0
    while start < len(raw) and raw[start] == PREAMBLE_BYTE:
        start += 1
    return _parse_exact(raw[start:])


class FrameParser:
    """Incremental parser for a byte stream that may hold garbage, preambles and split frames.

    ``feed`` never raises on bad input: frames with a bad checksum, end byte, length or address
    are appended to ``faults`` (a list of FrameError) and the parser resynchronises one byte
    after the bad start, so a meter emulator keeps serving after line noise.  Callers that want
    to fail fast (the client) inspect ``faults`` after each ``feed``.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.faults: list[FrameError] = []
        self.discarded = 0  # bytes skipped as preamble/garbage, for diagnostics

    def reset(self) -> None:
        self._buffer.clear()
        self.faults.clear()
        self.discarded = 0

    @property
    def pending(self) -> bytes:
        """Bytes held while waiting for the rest of a frame."""
        return bytes(self._buffer)

    def _drop(self, count: int) -> None:
        del self._buffer[:count]
        self.discarded += count

    def feed(self, chunk: bytes | bytearray) -> list[Frame]:
        self._buffer += chunk
        frames: list[Frame] = []
        buf = self._buffer
        while buf:
            start = buf.find(START)
            if start < 0:
                self._drop(len(buf))
                break
            if start:
                self._drop(start)
            if len(buf) < HEADER_LENGTH:
                break
            if buf[7] != START:
                self._drop(1)  # a stray 68 in garbage, not a frame header
                continue
            length = buf[9]
            if length > MAX_DATA_LENGTH:
                fault = f"length field {length} exceeds {MAX_DATA_LENGTH}"
                self.faults.append(FrameError(fault, buf[:HEADER_LENGTH]))
                self._drop(1)
                continue
            total = OVERHEAD + length
            if len(buf) < total:
                break
            try:
                frames.append(_parse_exact(buf[:total]))
            except FrameError as exc:
                self.faults.append(exc)
                self._drop(1)
                continue
            del buf[:total]
        return frames
