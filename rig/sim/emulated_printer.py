"""The emulated bench's receipt printer: raw TCP (as a network printer's port 9100) and a pty.

Whatever connects — rig's printer driver, python-escpos, `nc` — sends ESC/POS; the printer
parses it (:mod:`rig.sim.escpos_parser`), keeps every receipt it cut, and answers the
real-time status requests (DLE EOT) from its paper and cover state. That state, and whether
the printer answers at all (a network printer that hangs), is set through the bench's
control channel, as a lab technician would pull the roll or open the cover.
"""

from __future__ import annotations

import base64
import contextlib
import socket
import threading
from dataclasses import dataclass
from typing import Any

from rig.sim.escpos_parser import EscPosParser, PrintedReceipt
from rig.sim.pty_port import PtySerialEndpoint
from rig.sim.tcp_listener import TcpListener

# DLE EOT status bytes: bits 1 and 4 are always set (Epson TM series).
_FIXED_BITS = 0x12
_OFFLINE = 0x08  # n=1: printer offline
_COVER_OPEN = 0x04  # n=2: cover open
_PAPER_STOP = 0x20  # n=2: printing stopped by paper end
_PAPER_END = 0x60  # n=4: roll paper end sensor


@dataclass(frozen=True)
class PrinterState:
    paper_out: bool = False
    cover_open: bool = False
    answering: bool = True

    @property
    def online(self) -> bool:
        return not (self.paper_out or self.cover_open)

    def to_dict(self) -> dict[str, bool]:
        return {"paper_out": self.paper_out, "cover_open": self.cover_open,
                "answering": self.answering, "online": self.online}


class EmulatedPrinter:
    """One receipt printer with two ports (TCP and pty) onto the same paper roll."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.state = PrinterState()
        self.receipts: list[PrintedReceipt] = []
        self.discarded_bytes = 0  # print data received while offline: never reaches paper
        self.unknown: list[str] = []
        self._lock = threading.Lock()
        self._host = host
        self._tcp: TcpListener | None = None
        self._pty_parser = self._new_parser()
        self._pty = PtySerialEndpoint(self._on_pty_bytes, name="printer")
        self.url = ""
        self.port_path = ""

    # -- state ------------------------------------------------------------------------------
    def set_state(self, *, paper_out: bool | None = None, cover_open: bool | None = None,
                  answering: bool | None = None) -> PrinterState:
        with self._lock:
            s = self.state
            self.state = PrinterState(
                s.paper_out if paper_out is None else paper_out,
                s.cover_open if cover_open is None else cover_open,
                s.answering if answering is None else answering)
            return self.state

    def status_byte(self, n: int) -> int:
        """The reply to DLE EOT n (1 printer, 2 offline cause, 3 error cause, 4 paper)."""
        s = self.state
        if n == 1:
            return _FIXED_BITS | (0 if s.online else _OFFLINE)
        if n == 2:
            return (_FIXED_BITS | (_COVER_OPEN if s.cover_open else 0)
                    | (_PAPER_STOP if s.paper_out else 0))
        if n == 4:
            return _FIXED_BITS | (_PAPER_END if s.paper_out else 0)
        return _FIXED_BITS

    def received(self, since: int = 0) -> list[PrintedReceipt]:
        with self._lock:
            return list(self.receipts[since:])

    def snapshot(self) -> tuple[int, list[str]]:
        """How many receipts were cut, and the commands the printer did not know."""
        with self._lock:
            return len(self.receipts), list(self.unknown)

    # -- one connection's byte stream ----------------------------------------------------------
    def _new_parser(self) -> EscPosParser:
        return EscPosParser(status=self.status_byte)

    def _consume(self, parser: EscPosParser, data: bytes) -> bytes | None:
        """Parse ``data``; None when the printer does not answer (a hung network printer)."""
        if not self.state.answering:
            return None
        online = self.state.online
        before = len(parser.receipts)
        reply = parser.feed(data)
        with self._lock:
            if online:
                self.receipts.extend(parser.receipts[before:])
            else:
                self.discarded_bytes += len(data)
            self.unknown.extend(parser.unknown)
            parser.unknown.clear()
        return reply

    def _on_pty_bytes(self, data: bytes) -> bytes:
        return self._consume(self._pty_parser, data) or b""

    # -- life cycle ------------------------------------------------------------------------------
    def start(self) -> tuple[str, str]:
        """Open both ports; (tcp://host:port, pty path)."""
        self._tcp = TcpListener(self._serve_tcp, self._host, name="sim-printer")
        self._tcp.start()
        self.url = f"tcp://{self._host}:{self._tcp.port}"
        self.port_path = self._pty.start()
        return self.url, self.port_path

    def stop(self) -> None:
        if self._tcp is not None:
            self._tcp.stop()
            self._tcp = None
        self._pty.stop()

    def _serve_tcp(self, sock: socket.socket) -> None:
        """One network client's ESC/POS stream, with its own parser."""
        parser = self._new_parser()
        while data := sock.recv(4096):
            reply = self._consume(parser, data)
            if reply:
                with contextlib.suppress(OSError):
                    sock.sendall(reply)


def printer_control(printer: EmulatedPrinter, op: str, request: dict[str, Any]) -> dict[str, Any]:
    """The control channel's printer operations: set or read the state (``printer_state``
    with optional paper_out / cover_open / answering), the receipts cut since index ``since``
    (``printer_receipts``, parsed), one receipt's picture (``printer_png``, base64 PNG)."""
    if op == "printer_state":
        flags = {k: request[k] for k in ("paper_out", "cover_open", "answering") if k in request}
        for k, v in flags.items():
            if not isinstance(v, bool):
                raise ValueError(f"printer_state: {k} must be true or false, got {v!r}")
        return {"ok": True, "state": printer.set_state(**flags).to_dict()}
    if op == "printer_receipts":
        since = int(request.get("since", 0))
        total, unknown = printer.snapshot()
        return {"ok": True, "receipts": [r.to_dict() for r in printer.received(since)],
                "count": total, "discarded_bytes": printer.discarded_bytes, "unknown": unknown}
    if op == "printer_png":
        from rig.sim.receipt_png import receipt_png

        index = int(request.get("index", -1))
        receipts = printer.received()
        if not receipts or not -len(receipts) <= index < len(receipts):
            raise ValueError(f"printer_png: no receipt {index} (the printer cut {len(receipts)})")
        return {"ok": True, "png": base64.b64encode(receipt_png(receipts[index])).decode()}
    return {"ok": False, "error": f"unknown op {op!r}"}
