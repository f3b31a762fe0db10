"""APDU trace: what went over the card interface, readable in a bench log, minus secrets.

Redaction happens when an exchange is recorded, not when it is printed, so a secret never sits
in a trace object that might later be pickled, attached to a report or dumped by a debugger.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from rig.card.apdu import SECRET_INS, describe


@dataclass(frozen=True)
class TraceEntry:
    """One exchange. ``command``/``response`` are already redacted: a secret data field is cut
    out and its length kept in ``command_redacted``/``response_redacted``."""

    t: float  # seconds since the trace started
    terminal: str
    name: str
    command: bytes
    response: bytes
    duration: float  # seconds
    command_redacted: int = 0
    response_redacted: int = 0

    def to_text(self) -> str:
        cmd = _hex(self.command[:5] if self.command_redacted else self.command)
        if self.command_redacted:
            cmd += f" <redacted {self.command_redacted} bytes>" + (
                " " + _hex(self.command[5:]) if len(self.command) > 5 else "")
        rsp = _hex(self.response)
        if self.response_redacted:
            rsp = f"<redacted {self.response_redacted} bytes> {rsp}"
        return (f"{self.t:10.6f} {self.duration * 1000:7.3f}ms [{self.terminal}] {self.name}\n"
                f"    >> {cmd}\n    << {rsp}")


def _hex(b: bytes) -> str:
    return b.hex(" ").upper()


def _split_command(command: bytes) -> tuple[bytes, bytes, bytes]:
    """(header incl. Lc, data, trailing Le) of a short APDU; no data if it has none."""
    if len(command) > 5 and command[4] > 0 and len(command) in (5 + command[4], 6 + command[4]):
        lc = command[4]
        return command[:5], command[5:5 + lc], command[5 + lc:]
    return command, b"", b""


class ApduTrace:
    """Thread-safe, append-only list of `TraceEntry` shared by any number of terminals."""

    def __init__(self) -> None:
        self._t0 = time.monotonic()
        self._lock = threading.Lock()
        self.entries: list[TraceEntry] = []

    def record(self, command: bytes, response: bytes, *, terminal: str = "",
               name: str | None = None, secret: bool = False, started: float | None = None,
               duration: float = 0.0) -> TraceEntry:
        """Store one exchange; ``secret`` (or an AUTHENTICATE INS) redacts both data fields.

        ``started`` is a `time.monotonic()` value; default is now.
        """
        command, response = bytes(command), bytes(response)
        secret = secret or (len(command) >= 2 and command[1] in SECRET_INS)
        c_red = r_red = 0
        if secret:
            head, data, tail = _split_command(command)
            command, c_red = head + tail, len(data)
            if len(response) > 2:
                r_red = len(response) - 2
                response = response[-2:]
        entry = TraceEntry(
            t=(started if started is not None else time.monotonic()) - self._t0,
            terminal=terminal, name=name or describe(command), command=command,
            response=response, duration=duration, command_redacted=c_red,
            response_redacted=r_red)
        with self._lock:
            self.entries.append(entry)
        return entry

    def __len__(self) -> int:
        return len(self.entries)

    def to_text(self) -> str:
        with self._lock:
            return "\n".join(e.to_text() for e in self.entries)
