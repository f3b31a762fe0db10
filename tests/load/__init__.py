"""Test helpers for the load driver: a scripted ("recorded protocol") SCPI instrument.

`ScriptedInstrument` is a real TCP server (so the driver goes through pyvisa-py exactly as on a
bench) that expects an exact sequence of command lines and answers with scripted replies. Any
other string, or a missing one, is recorded and reported by `verify()`: the tests pin down the
exact SCPI the driver sends, in the spirit of PyMeasure's ``expected_protocol``.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Sequence

#: (expected command line without terminator, reply line or None for a setting command)
Exchange = tuple[str, str | None]


class ScriptedInstrument:
    """One-connection TCP instrument that follows a script and records deviations."""

    def __init__(self, script: Sequence[Exchange]) -> None:
        self.script = list(script)
        self.received: list[str] = []
        self.failures: list[str] = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(1)
        self._listener.settimeout(5)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @property
    def resource(self) -> str:
        return f"TCPIP0::127.0.0.1::{self.port}::SOCKET"

    def _run(self) -> None:
        try:
            conn, _ = self._listener.accept()
        except OSError as exc:
            self.failures.append(f"no connection: {exc}")
            return
        with conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.settimeout(5)
            lines = conn.makefile("rb")
            step = 0
            for raw in lines:
                line = raw.decode("ascii").rstrip("\r\n")
                self.received.append(line)
                if step >= len(self.script):
                    self.failures.append(f"unexpected extra command {line!r}")
                    return
                expected, reply = self.script[step]
                step += 1
                if line != expected:
                    self.failures.append(f"step {step}: expected {expected!r}, got {line!r}")
                    return
                if reply is not None:
                    conn.sendall(reply.encode("ascii") + b"\n")
            if step < len(self.script):
                self.failures.append(f"script not finished: next was {self.script[step][0]!r}")

    def verify(self) -> None:
        """Wait for the client to hang up, then fail on any deviation from the script."""
        self._thread.join(timeout=5)
        self._listener.close()
        assert not self._thread.is_alive(), "scripted instrument still waiting for commands"
        assert not self.failures, f"{self.failures}; received {self.received}"
