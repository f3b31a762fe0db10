"""The emulated receipt printer's reading of an ESC/POS byte stream: what lands on the paper.

Written from the command descriptions of Epson's ESC/POS reference (command lengths, the
ESC t code page numbers, the DLE EOT status bits), not from any ESC/POS library, so that a
test comparing it with python-escpos compares two independent readings of the same bytes.
The stream is parsed incrementally (a command may arrive split over TCP segments); a cut
ends a receipt. Commands it does not know are kept in ``unknown`` so tests can assert none.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

ESC, GS, DLE, FS = 0x1B, 0x1D, 0x10, 0x1C

# ESC t n: the character code tables of Epson's TM printers (table numbers are the standard's).
CODE_PAGES: dict[int, str] = {
    0: "cp437", 2: "cp850", 3: "cp860", 4: "cp863", 5: "cp865", 16: "cp1252", 17: "cp866",
    18: "cp852", 19: "cp858", 40: "iso8859_15", 45: "cp1250", 46: "cp1251", 47: "cp1253",
    48: "cp1254", 49: "cp1255", 50: "cp1256", 51: "cp1257",
}

# Commands with fixed-length arguments: (prefix byte, command byte) -> argument byte count.
_FIXED: dict[tuple[int, int], int] = {
    **{(ESC, ord(c)): 1 for c in "!-EGJMRUV adeft{r=3A+"},
    (ESC, ord("@")): 0, (ESC, ord("2")): 0, (ESC, ord("S")): 0, (ESC, ord("L")): 0,
    (ESC, ord("i")): 0, (ESC, ord("m")): 0, (ESC, ord("<")): 0, (ESC, ord("$")): 2,
    (ESC, ord("\\")): 2, (ESC, ord("p")): 3, (ESC, ord("B")): 2, (ESC, ord("c")): 2,
    **{(GS, ord(c)): 1 for c in "!BHIafhbwr|"},
    (GS, ord("L")): 2, (GS, ord("W")): 2, (GS, ord("P")): 2,
    (FS, ord(".")): 0, (FS, ord("&")): 0, (FS, ord("C")): 1, (FS, ord("!")): 1,
    (FS, ord("-")): 1, (FS, ord("W")): 1, (FS, ord("p")): 2, (FS, ord("S")): 2,
    (DLE, 0x04): 1, (DLE, 0x05): 1, (DLE, 0x14): 3,
}


@dataclass(frozen=True)
class PrintedLine:
    """One printed line of text, as the customer reads it."""

    text: str
    bold: bool = False
    align: Literal["left", "center", "right"] = "left"
    double: bool = False


@dataclass(frozen=True)
class PrintedCode:
    """A QR code or barcode the printer drew, with the data it encodes."""

    kind: Literal["qr", "barcode"]
    data: str


@dataclass(frozen=True)
class PrintedImage:
    """A raster image (GS v 0): its size in dots."""

    width: int
    height: int


@dataclass(frozen=True)
class Feed:
    """Paper fed without printing, in lines."""

    lines: int


Item = PrintedLine | PrintedCode | PrintedImage | Feed


@dataclass
class PrintedReceipt:
    """Everything printed between two cuts, in paper order."""

    items: list[Item] = field(default_factory=list)
    cut: Literal["full", "partial"] | None = None
    code_pages: set[str] = field(default_factory=set)

    @property
    def lines(self) -> list[str]:
        """The printed text lines, trailing spaces removed, feeds left out."""
        return [i.text.rstrip() for i in self.items if isinstance(i, PrintedLine)]

    @property
    def codes(self) -> list[PrintedCode]:
        return [i for i in self.items if isinstance(i, PrintedCode)]

    def to_dict(self) -> dict[str, object]:
        return {"lines": self.lines,
                "bold": [i.text.rstrip() for i in self.items
                         if isinstance(i, PrintedLine) and i.bold],
                "codes": [{"kind": c.kind, "data": c.data} for c in self.codes],
                "cut": self.cut, "code_pages": sorted(self.code_pages)}


@dataclass
class _Style:
    bold: bool = False
    align: Literal["left", "center", "right"] = "left"
    double: bool = False
    code_page: int = 0


_ALIGN: dict[int, Literal["left", "center", "right"]] = {
    0: "left", 48: "left", 1: "center", 49: "center", 2: "right", 50: "right"}


class EscPosParser:
    """Feed bytes in; completed receipts collect in ``receipts``; status replies come back."""

    def __init__(self, status: Callable[[int], int] | None = None) -> None:
        self._status = status or (lambda n: 0x12)
        self._buf = bytearray()
        self._style = _Style()
        self._line: list[str] = []
        self._line_bold = False
        self._qr_data = ""
        self.current = PrintedReceipt()
        self.receipts: list[PrintedReceipt] = []
        self.unknown: list[str] = []

    # -- input ----------------------------------------------------------------------------
    def feed(self, data: bytes) -> bytes:
        """Parse ``data``; the bytes to send back (real-time status replies)."""
        self._buf += data
        reply = bytearray()
        while self._buf:
            used = self._step(reply)
            if used == 0:  # an incomplete command: wait for the rest
                break
            del self._buf[:used]
        return bytes(reply)

    def _step(self, reply: bytearray) -> int:
        b = self._buf
        c = b[0]
        if c in (ESC, GS, DLE, FS):
            return self._command(reply)
        if c in (0x0A, 0x0C):  # LF, FF: print the line
            self._end_line()
        elif c == 0x09:
            self._line.append(" " * (8 - len("".join(self._line)) % 8))
        elif c >= 0x20:
            self._text_byte(c)
        return 1  # CR and other control bytes print nothing

    def _command(self, reply: bytearray) -> int:
        b = self._buf
        if len(b) < 2:
            return 0
        prefix, cmd = b[0], b[1]
        if prefix == GS and cmd in (ord("("), ord("k"), ord("v"), ord("V")):
            return self._gs_variable(cmd)
        if prefix == ESC and cmd in (ord("*"), ord("D")):
            return self._esc_variable(cmd)
        size = _FIXED.get((prefix, cmd))
        if size is None:
            self.unknown.append(f"{prefix:02X} {cmd:02X}")
            return 2
        if len(b) < 2 + size:
            return 0
        self._apply(prefix, cmd, bytes(b[2:2 + size]), reply)
        return 2 + size

    def _apply(self, prefix: int, cmd: int, args: bytes, reply: bytearray) -> None:
        s = self._style
        if prefix == DLE and cmd == 0x04:
            reply.append(self._status(args[0]))
        elif prefix == ESC:
            match chr(cmd):
                case "@":
                    self._line, self._style = [], _Style()
                case "E" | "G":
                    s.bold = bool(args[0] & 1)
                case "!":
                    s.bold, s.double = bool(args[0] & 0x08), bool(args[0] & 0x30)
                case "a":
                    s.align = _ALIGN.get(args[0], "left")
                case "t":
                    s.code_page = args[0]
                case "d":
                    self._end_line(only_if_text=True)
                    self.current.items.append(Feed(args[0]))
                case "J":
                    self._end_line(only_if_text=True)
        elif prefix == GS and chr(cmd) == "!":
            s.double = args[0] != 0
        elif prefix == GS and chr(cmd) == "r":
            reply.append(self._paper_sensor(args[0]))

    def _paper_sensor(self, n: int) -> int:
        """GS r 1: paper sensor bits 0-1 (near end) and 2-3 (end), from DLE EOT 4's state."""
        if n not in (1, 49):
            return 0
        roll = self._status(4)
        return (0x0C if roll & 0x60 else 0) | (0x03 if roll & 0x0C else 0)

    def _gs_variable(self, cmd: int) -> int:
        b = self._buf
        if cmd == ord("V"):  # cut: m, and for m = 65/66/97/98/103/104 a feed amount
            if len(b) < 3:
                return 0
            m = b[2]
            size = 4 if m in (65, 66, 97, 98, 103, 104) else 3
            if len(b) < size:
                return 0
            self._cut("partial" if m in (1, 49, 66, 98, 104) else "full")
            return size
        if cmd == ord("("):  # GS ( fn pL pH data
            if len(b) < 5:
                return 0
            size = 5 + b[3] + 256 * b[4]
            if len(b) < size:
                return 0
            if b[2] == ord("k"):
                self._two_d(bytes(b[5:size]))
            return size
        if cmd == ord("k"):  # barcode: m <= 6 data NUL, else m n data
            if len(b) < 3:
                return 0
            m = b[2]
            if m <= 6:
                end = b.find(0, 3)
                if end < 0:
                    return 0
                self._code("barcode", bytes(b[3:end]))
                return end + 1
            if len(b) < 4 or len(b) < 4 + b[3]:
                return 0
            self._code("barcode", bytes(b[4:4 + b[3]]))
            return 4 + b[3]
        # GS v 0 m xL xH yL yH data: a raster bit image
        if len(b) < 8:
            return 0
        width_bytes, height = b[4] + 256 * b[5], b[6] + 256 * b[7]
        size = 8 + width_bytes * height
        if len(b) < size:
            return 0
        self._end_line(only_if_text=True)
        self.current.items.append(PrintedImage(width_bytes * 8, height))
        return size

    def _esc_variable(self, cmd: int) -> int:
        b = self._buf
        if cmd == ord("D"):  # tab positions, NUL-terminated
            end = b.find(0, 2)
            return 0 if end < 0 else end + 1
        if len(b) < 5:  # ESC * m nL nH data
            return 0
        dots = b[3] + 256 * b[4]
        size = 5 + dots * (1 if b[2] in (0, 1) else 3)
        return 0 if len(b) < size else size

    def _two_d(self, body: bytes) -> None:
        """GS ( k: cn fn [m] data. QR (cn 49): fn 80 stores the data, fn 81 prints it."""
        if len(body) < 2 or body[0] != 49:
            return
        if body[1] == 80:
            self._qr_data = body[3:].decode("utf-8", "replace")
        elif body[1] == 81:
            self._code("qr", self._qr_data.encode())

    def _code(self, kind: Literal["qr", "barcode"], data: bytes) -> None:
        self._end_line(only_if_text=True)
        self.current.items.append(PrintedCode(kind, data.decode("utf-8", "replace")))

    # -- text -------------------------------------------------------------------------------
    def _text_byte(self, c: int) -> None:
        name = CODE_PAGES.get(self._style.code_page)
        if c < 0x80:
            char = chr(c)
        elif name is None:
            self.unknown.append(f"code page {self._style.code_page}")
            char = "\ufffd"
        else:
            char = codecs.decode(bytes([c]), name)
            self.current.code_pages.add(name)
        if not self._line:
            self._line_bold = self._style.bold
        self._line_bold = self._line_bold or self._style.bold
        self._line.append(char)

    def _end_line(self, *, only_if_text: bool = False) -> None:
        if only_if_text and not self._line:
            return
        s = self._style
        self.current.items.append(PrintedLine("".join(self._line), self._line_bold, s.align,
                                              s.double))
        self._line, self._line_bold = [], False

    def _cut(self, how: Literal["full", "partial"]) -> None:
        self._end_line(only_if_text=True)
        self.current.cut = how
        self.receipts.append(self.current)
        self.current = PrintedReceipt()
