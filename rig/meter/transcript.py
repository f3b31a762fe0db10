"""A thread-safe byte log shared by every meter protocol.

Every byte the rig sends to or receives from a meter is recorded with a monotonic time stamp,
so a failed exchange can be replayed by eye from the bench log without a line sniffer.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Literal

Direction = Literal["tx", "rx"]


@dataclass(frozen=True)
class TranscriptEntry:
    """One chunk of bytes as it crossed the line (``t`` is ``time.monotonic()``)."""

    t: float
    direction: Direction
    data: bytes
    note: str = ""


class Transcript:
    """Append-only log; safe to share between a client thread and a server thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[TranscriptEntry] = []

    def add(self, direction: Direction, data: bytes, note: str = "") -> TranscriptEntry:
        """Record ``data`` sent (``"tx"``) or received (``"rx"``) now."""
        if direction not in ("tx", "rx"):
            raise ValueError(f"transcript direction must be 'tx' or 'rx', not {direction!r}")
        entry = TranscriptEntry(time.monotonic(), direction, bytes(data), note)
        with self._lock:
            self._entries.append(entry)
        return entry

    @property
    def entries(self) -> list[TranscriptEntry]:
        """A copy, so callers can iterate while other threads keep logging."""
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def to_text(self) -> str:
        """One line per entry: ms since the first entry, direction, spaced hex, note."""
        entries = self.entries
        if not entries:
            return ""
        t0 = entries[0].t
        lines = []
        for e in entries:
            line = f"{(e.t - t0) * 1000:10.1f} ms {e.direction} {e.data.hex(' ').upper()}"
            if e.note:
                line += f"  # {e.note}"
            lines.append(line)
        return "\n".join(lines)
