"""Rig side of an emulated bench's control channel (card courier and clock).

JSON lines over loopback TCP; the server side is rig.sim.control.
"""

from __future__ import annotations

import json
import socket
import threading
from typing import Any

from rig.errors import RigError


class ControlClient:
    """Client side of the control channel (used by the emulated courier and clock)."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        if not url.startswith("tcp://"):
            raise ValueError(f"control url must look like tcp://HOST:PORT, got {url!r}")
        host, _, port = url.removeprefix("tcp://").rpartition(":")
        self._sock = socket.create_connection((host, int(port)), timeout=timeout)
        self._file = self._sock.makefile("rwb")
        self._lock = threading.Lock()

    def call(self, op: str, **params: Any) -> dict[str, Any]:
        with self._lock:
            self._file.write(json.dumps({"op": op, **params}).encode() + b"\n")
            self._file.flush()
            line = self._file.readline()
        if not line:
            raise RigError("emulated bench closed its control channel")
        reply: dict[str, Any] = json.loads(line)
        if not reply.get("ok"):
            raise RigError(f"emulated bench refused {op!r}: {reply.get('error')}")
        return reply

    def close(self) -> None:
        self._file.close()
        self._sock.close()
