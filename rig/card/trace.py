"""APDU trace: what went over the card interface, readable in a bench log, minus secrets.

Redaction happens when an exchange is recorded, not when it is printed, so a secret never sits
in a trace object that might later be pickled, attached to a report or dumped by a debugger.
A trace is saved as JSON lines (docs/card-formats.md, "APDU traces"): a header line naming
the card format, then one line per exchange, for ``rig card replay``.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from rig.card.apdu import SECRET_INS, describe
from rig.errors import CardError

TRACE_VERSION = 1


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


    @property
    def redacted(self) -> bool:
        return bool(self.command_redacted or self.response_redacted)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["command"], out["response"] = self.command.hex().upper(), self.response.hex().upper()
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TraceEntry:
        return cls(t=float(data["t"]), terminal=str(data["terminal"]), name=str(data["name"]),
                   command=bytes.fromhex(data["command"]),
                   response=bytes.fromhex(data["response"]),
                   duration=float(data.get("duration", 0.0)),
                   command_redacted=int(data.get("command_redacted", 0)),
                   response_redacted=int(data.get("response_redacted", 0)))


@dataclass(frozen=True)
class SavedTrace:
    """A trace read back from its file: the card format it was recorded with (and that
    format's options) and the exchanges, in order."""

    card_format: str
    options: dict[str, str]
    entries: list[TraceEntry]


def load_trace(path: str | os.PathLike[str]) -> SavedTrace:
    """Read a trace saved by :meth:`ApduTrace.save`; CardError naming the file and line."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise CardError(f"APDU trace {p}: cannot read ({e.strerror})") from None
    entries: list[TraceEntry] = []
    header: dict[str, Any] = {}
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if not header:
                if data.get("rig_apdu_trace") != TRACE_VERSION:
                    raise ValueError("not an rig APDU trace header (rig_apdu_trace: 1)")
                header = data
            else:
                entries.append(TraceEntry.from_json(data))
        except (ValueError, KeyError, TypeError) as e:
            raise CardError(f"APDU trace {p} line {n}: {e}") from None
    if not header:
        raise CardError(f"APDU trace {p}: empty file")
    return SavedTrace(str(header.get("card_format", "rigpp")),
                      {str(k): str(v) for k, v in header.get("options", {}).items()}, entries)


class _Transport(Protocol):
    def transmit(self, apdu: bytes) -> bytes: ...


class TracedTransport:
    """A transport that records every exchange it carries (redacted as ``ApduTrace.record``
    redacts), for a terminal that traces nothing itself (the emulated meter's card slot)."""

    def __init__(self, transport: _Transport, trace: ApduTrace, terminal: str, *,
                 secret: Callable[[bytes], bool] | None = None) -> None:
        self.transport, self.trace, self.name = transport, trace, terminal
        # ``secret(apdu)``: APDUs whose data fields are secret beyond the ISO ones (a memory
        # card reader's PSC presentation). A transport whose commands are not APDUs (a memory
        # card's chip bus) says itself which carry one: ``secret_command(command)`` -> the
        # bytes to keep, or None.
        self._secret_apdu = secret
        self._secret_command: Callable[[bytes], int | None] | None = getattr(
            transport, "secret_command", None)
        self._describe: Callable[[bytes], str] | None = getattr(transport, "describe", None)

    def transmit(self, apdu: bytes) -> bytes:
        started = time.monotonic()
        response = self.transport.transmit(apdu)
        keep = self._secret_command(apdu) if self._secret_command is not None else None
        secret = self._secret_apdu is not None and self._secret_apdu(apdu)
        self.trace.record(apdu, response, terminal=self.name, started=started,
                          duration=time.monotonic() - started, secret=secret, keep=keep,
                          name=None if self._describe is None else self._describe(apdu))
        return response


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
               duration: float = 0.0, keep: int | None = None) -> TraceEntry:
        """Store one exchange; ``secret`` (or an AUTHENTICATE INS) redacts both data fields.
        ``keep``: a secret exchange that is not an APDU (no Lc, no status word): only the
        command's first ``keep`` bytes are stored, the whole response is cut.

        ``started`` is a `time.monotonic()` value; default is now.
        """
        command, response = bytes(command), bytes(response)
        secret = secret or (len(command) >= 2 and command[1] in SECRET_INS)
        c_red = r_red = 0
        if keep is not None:
            c_red, r_red = max(len(command) - keep, 0), len(response)
            command, response = command[:keep], b""
        elif secret:
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

    def save(self, path: str | os.PathLike[str], *, card_format: str,
             options: dict[str, str] | None = None) -> Path:
        """Write the (already redacted) trace as JSON lines: a header naming the card format
        and its options, then one exchange a line."""
        header = {"rig_apdu_trace": TRACE_VERSION, "card_format": card_format,
                  "options": options or {}}
        with self._lock:
            lines = [json.dumps(header), *(json.dumps(e.to_json()) for e in self.entries)]
        target = Path(path)
        target.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return target
