"""IEC 62056-21 mode C messages: sign-on, identification, ACK/option select, data sets, BCC.

Characters are 7-bit ASCII sent 7E1 (one start bit, 7 data bits, even parity, one stop bit),
IEC 62056-21:2002 5.4. A line that cannot carry a parity bit (a Linux pty: always 8 bits, no
parity) carries one of two forms: a standard 7E1 client left at 8N1 sends the 7-bit characters
as they are (`/?!` CR LF = 2F 3F 21 0D 0A); rig's client can instead put the parity in bit 7
itself (`with_even_parity` / `strip_even_parity`: AF 3F 21 8D 0A), so the bytes are exactly
the 7E1 characters a UART would frame. A sign-on's first character, '/', has odd weight, so it
tells the forms apart (`SIGN_ON_7BIT` / `SIGN_ON_PARITY_BIT`).

BCC: XOR of every character after the first SOH or STX up to and including ETX (or EOT).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rig.errors import ProtocolError

SOH, STX, ETX, EOT, ACK, NAK = b"\x01", b"\x02", b"\x03", b"\x04", b"\x06", b"\x15"
CRLF = b"\r\n"

# Mode C baud-rate characters (identification Z, ACK/option select Z).
BAUD_CHARS: dict[int, str] = {300: "0", 600: "1", 1200: "2", 2400: "3", 4800: "4",
                              9600: "5", 19200: "6"}
BAUD_OF_CHAR: dict[str, int] = {c: b for b, c in BAUD_CHARS.items()}

#: '/' (the first character of every sign-on) as a bare 7-bit character and as a 7E1 character
#: with its even parity in bit 7: which one arrives tells the form the client uses.
SIGN_ON_7BIT, SIGN_ON_PARITY_BIT = 0x2F, 0xAF

MODE_READOUT = "0"
MODE_PROGRAMMING = "1"


class Iec62056Error(ProtocolError):
    """A malformed, corrupted (parity/BCC) or unexpected IEC 62056-21 message."""

    def __init__(self, message: str, raw: bytes = b"") -> None:
        super().__init__(f"{message}: {_show(raw)}" if raw else message)
        self.raw = raw


def _show(raw: bytes) -> str:
    """Messages as a meter engineer reads them: control characters named, text as is."""
    names = {0x01: "<SOH>", 0x02: "<STX>", 0x03: "<ETX>", 0x04: "<EOT>", 0x06: "<ACK>",
             0x15: "<NAK>", 0x0D: "<CR>", 0x0A: "<LF>"}
    return "".join(names.get(b, chr(b) if 0x20 <= b < 0x7F else f"<{b:02X}>") for b in raw)


show = _show


def bcc(body: bytes) -> int:
    """Block check character over `body` (the bytes after SOH/STX, ETX included)."""
    value = 0
    for b in body:
        value ^= b
    return value & 0x7F


def with_even_parity(data: bytes) -> bytes:
    """Set bit 7 of each 7-bit character so every byte has an even number of ones."""
    out = bytearray()
    for b in data:
        if b > 0x7F:
            raise ValueError(f"byte {b:02X} is not a 7-bit character")
        out.append(b | 0x80 if bin(b).count("1") % 2 else b)
    return bytes(out)


def strip_even_parity(data: bytes) -> bytes:
    """Check and remove the parity bit; a byte with odd parity is a line fault."""
    for i, b in enumerate(data):
        if bin(b).count("1") % 2:
            raise Iec62056Error(f"parity error in byte {i} ({b:02X})", data)
    return bytes(b & 0x7F for b in data)


def check_seven_bit(data: bytes) -> bytes:
    """`data` unchanged if every byte is a 7-bit character; a byte above 7F is a line fault."""
    for i, b in enumerate(data):
        if b > 0x7F:
            raise Iec62056Error(f"byte {i} ({b:02X}) is not a 7-bit character", data)
    return data


# -- encoders ----------------------------------------------------------------------------
def request(address: str = "") -> bytes:
    """Sign-on: `/?` device address `!` CR LF (an empty address asks any meter)."""
    if any(c in address for c in "/?!") or len(address) > 32:
        raise ValueError(f"device address {address!r} is not 0-32 characters without / ? !")
    return b"/?" + address.encode("ascii") + b"!" + CRLF


def identification(manufacturer: str, baudrate: int, ident: str) -> bytes:
    """Meter's reply to a sign-on: `/` XXX Z ident CR LF (Z = highest baud rate offered)."""
    return f"/{manufacturer}{BAUD_CHARS[baudrate]}{ident}".encode("ascii") + CRLF


def ack_option(baudrate: int, mode: str, protocol: str = "0") -> bytes:
    """ACK V Z Y CR LF: protocol control V, baud-rate character Z, mode Y."""
    return ACK + f"{protocol}{BAUD_CHARS[baudrate]}{mode}".encode("ascii") + CRLF


def _block(start: bytes, body: bytes) -> bytes:
    return start + body + bytes([bcc(body)])


def command(cmd: str, kind: str, data: str | None = None) -> bytes:
    """Programming command SOH C D STX data ETX BCC (B0 has no data: SOH B0 ETX BCC)."""
    head = f"{cmd}{kind}".encode("ascii")
    if data is None:
        return _block(SOH, head + ETX)
    return _block(SOH, head + STX + data.encode("ascii") + ETX)


def data_message(dataset: str) -> bytes:
    """STX data set ETX BCC: a meter's answer to R1, its P0, or an error `(TEXT)`."""
    return _block(STX, dataset.encode("ascii") + ETX)


def readout(lines: list[str]) -> bytes:
    """STX data lines (each ending CR LF) `!` CR LF ETX BCC: the mode C data readout."""
    body = b"".join(line.encode("ascii") + CRLF for line in lines) + b"!" + CRLF + ETX
    return _block(STX, body)


# -- data sets ------------------------------------------------------------------------------
_DATASET = re.compile(r"([^()/!]*)\(([^()*]*)(?:\*([^()]*))?\)")


@dataclass(frozen=True)
class DataSet:
    """One `address(value*unit)` item of a readout or an R1 answer."""

    address: str
    value: str
    unit: str = ""

    def __str__(self) -> str:
        return f"{self.address}({self.value}{'*' + self.unit if self.unit else ''})"


def parse_datasets(text: str) -> list[DataSet]:
    """Every data set in `text`; a line that is not one is an error naming it."""
    out: list[DataSet] = []
    for line in text.replace("\r", "").split("\n"):
        pos = 0
        line = line.strip()
        while pos < len(line):
            m = _DATASET.match(line, pos)
            if not m:
                raise Iec62056Error(f"not a data set at column {pos}",
                                    line.encode("ascii", "replace"))
            address = m.group(1) or (out[-1].address if out else "")
            out.append(DataSet(address, m.group(2), m.group(3) or ""))
            pos = m.end()
    return out


@dataclass(frozen=True)
class Identification:
    manufacturer: str
    baudrate: int
    ident: str
    short_reaction: bool  # third FLAG letter lower case: the meter may answer within 20 ms


def parse_identification(line: bytes) -> Identification:
    text = line.rstrip(b"\r\n").decode("ascii", "replace")
    if not (line.endswith(CRLF) and len(text) >= 5 and text[0] == "/"):
        raise Iec62056Error("not an identification message", line)
    flag, z, ident = text[1:4], text[4], text[5:]
    if z not in BAUD_OF_CHAR:
        raise Iec62056Error(f"identification baud-rate character {z!r} is not mode C", line)
    return Identification(flag, BAUD_OF_CHAR[z], ident, flag[2].islower())


# -- stream reassembly -------------------------------------------------------------------------
class MessageReader:
    """Cuts a 7-bit character stream into messages: lines (sign-on, identification,
    ACK/option select), single ACK/NAK, and BCC-checked SOH/STX blocks.

    On the meter side an ACK opens an option-select line (ACK V Z Y CR LF); on the client
    side ACK and NAK stand alone.
    """

    def __init__(self, *, ack_starts_line: bool) -> None:
        self._ack_line = ack_starts_line
        self._buf = bytearray()

    def clear(self) -> None:
        self._buf.clear()

    @property
    def idle(self) -> bool:
        """No partial message buffered: the next character starts a message."""
        return not self._buf

    def drop_partial_line(self) -> bool:
        """Forget an unfinished line (not a SOH/STX block); True if there was one.

        A '/' never occurs inside a line message, only at its start: when a sign-on begins,
        whatever line was still unfinished is dead (a client gave up on it).
        """
        if self._buf and self._buf[0:1] not in (SOH, STX):
            self._buf.clear()
            return True
        return False

    def feed(self, data: bytes) -> list[bytes]:
        """Complete messages so far; raises Iec62056Error for a block whose BCC is wrong."""
        self._buf += data
        out: list[bytes] = []
        while self._buf:
            first = self._buf[0:1]
            if first == NAK or (first == ACK and not self._ack_line):
                out.append(bytes(first))
                del self._buf[:1]
                continue
            if first in (SOH, STX):
                end = next((i for i, b in enumerate(self._buf) if b in (3, 4)), -1)
                if end < 0 or end + 1 >= len(self._buf):
                    break
                msg = bytes(self._buf[: end + 2])
                del self._buf[: end + 2]
                if bcc(msg[1:-1]) != msg[-1]:
                    raise Iec62056Error(f"BCC {msg[-1]:02X} wrong, computed "
                                        f"{bcc(msg[1:-1]):02X}", msg)
                out.append(msg)
                continue
            i = self._buf.find(CRLF)
            if i < 0:
                if len(self._buf) > 256:
                    bad = bytes(self._buf[:64])
                    self._buf.clear()
                    raise Iec62056Error("no CR LF within 256 characters", bad)
                break
            out.append(bytes(self._buf[: i + 2]))
            del self._buf[: i + 2]
        return out


def ascii_text(raw: bytes) -> str:
    """`raw` as text; a byte above 7F (line noise without a parity check) is an error."""
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError as e:
        raise Iec62056Error(f"byte {raw[e.start]:02X} at {e.start} is not a 7-bit character",
                            raw) from None


def block_text(msg: bytes) -> str:
    """The characters between STX (after SOH C D) and ETX of a block message."""
    start = msg.find(STX)
    return ascii_text(msg[start + 1 : -2]) if start >= 0 else ""
