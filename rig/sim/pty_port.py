"""A serial port for the emulated meter: a real pseudo-terminal.

The rig (or minicom, or any other DL/T 645 client) opens the slave path with pyserial exactly
as it would open /dev/ttyUSB0; the emulated meter serves the master side.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import tty
from collections.abc import Callable


class PtySerialEndpoint:
    """Serve a byte-stream handler on the master side of a new pty."""

    def __init__(self, handler: Callable[[bytes], bytes], name: str = "meter") -> None:
        self._handler = handler
        self._name = name
        self._master = -1
        self._slave = -1
        self._stop_r, self._stop_w = -1, -1
        self._thread: threading.Thread | None = None
        self.path = ""

    def start(self) -> str:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no line discipline: bytes pass untouched
        self.path = os.ttyname(self._slave)
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._serve, name=f"pty-{self._name}", daemon=True)
        self._thread.start()
        return self.path

    def _serve(self) -> None:
        while True:
            ready, _, _ = select.select([self._master, self._stop_r], [], [])
            if self._stop_r in ready:
                return
            try:
                data = os.read(self._master, 4096)
            except OSError:  # no client has the slave open: keep waiting
                continue
            if not data:
                continue
            reply = self._handler(data)
            if reply:
                os.write(self._master, reply)

    def stop(self) -> None:
        if self._thread is None:
            return
        os.write(self._stop_w, b"x")
        self._thread.join(timeout=5)
        for fd in (self._master, self._slave, self._stop_r, self._stop_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._thread = None
