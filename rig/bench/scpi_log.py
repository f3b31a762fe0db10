"""A log of the SCPI conversation with the load, attached to reports like the serial
transcript and the APDU trace.

The load driver talks to a VISA resource through `write` and `read`; `record_scpi` puts a
recording proxy in front of that resource, so every command and reply is logged with its
bench time whatever the instrument's dialect. Arguments of password-like commands are
redacted; the log keeps the newest `max_lines` lines and says how many it dropped.
"""

from __future__ import annotations

import re
import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any

from rig.load.driver import ElectronicLoad

_SECRET = re.compile(r"(?i)(\S*(?:PASS|PSW|PWD|KEY)[\w:]*\??)(\s+)(\S.*)$")


def redact(command: str) -> str:
    """`SYST:PASS "1234"` → `SYST:PASS <redacted>`; anything else unchanged."""
    return _SECRET.sub(r"\1\2<redacted>", command)


class ScpiLog:
    """Thread-safe, bounded log of SCPI lines: (bench time, direction, text)."""

    def __init__(self, clock: Callable[[], datetime], max_lines: int = 20000) -> None:
        self._clock = clock
        self._lines: deque[tuple[datetime, str, str]] = deque(maxlen=max_lines)
        self._dropped = 0
        self._lock = threading.Lock()

    def add(self, direction: str, text: str) -> None:
        with self._lock:
            if len(self._lines) == self._lines.maxlen:
                self._dropped += 1
            self._lines.append((self._clock(), direction, redact(text)))

    def __len__(self) -> int:
        return len(self._lines)

    def to_text(self) -> str:
        with self._lock:
            lines = list(self._lines)
            dropped = self._dropped
        head = [f"... {dropped} earlier lines dropped"] if dropped else []
        return "\n".join(head + [f"{t.isoformat(timespec='milliseconds')} {d} {text}"
                                 for t, d, text in lines])


class _Recording:
    """Proxy of a VISA resource that logs what crosses `write` and `read`."""

    def __init__(self, resource: Any, log: ScpiLog) -> None:
        self._resource = resource
        self._log = log

    def write(self, command: str) -> Any:
        self._log.add(">", command)
        return self._resource.write(command)

    def read(self) -> Any:
        reply = self._resource.read()
        self._log.add("<", str(reply).strip())
        return reply

    def __getattr__(self, name: str) -> Any:
        return getattr(self._resource, name)


def record_scpi(load: ElectronicLoad, log: ScpiLog) -> None:
    """Log every later command and reply of `load` (the driver keeps its VISA resource in
    `_inst`; this is the one place outside rig/load that touches it)."""
    load._inst = _Recording(load._inst, log)
