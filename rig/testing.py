"""Scripted instrument doubles for testing protocol code without a bench.

In the spirit of PyMeasure's ``expected_protocol``: a test states the exact conversation —
the bytes or command lines the code under test must send and what the instrument answers —
and any deviation fails with both sides shown. rig's own tests use them; a lab uses them for
its own load dialects, meter register maps and profile code.

- `ScriptedSerial`: a pyserial-like port (``write``, ``read``, ``in_waiting``...) for a
  meter protocol client (DL/T 645, IEC 62056-21).
- `ScriptedInstrument`: a real TCP server on 127.0.0.1, so a load driver goes through
  pyvisa-py exactly as on a bench (``TCPIP0::127.0.0.1::PORT::SOCKET``).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Sequence

__all__ = ["Exchange", "ScriptedInstrument", "ScriptedSerial"]


class ScriptedSerial:
    """A pyserial-like port that follows a script of (bytes written, bytes answered).

    Give it to a protocol client in place of `serial.Serial`; writing anything other than the
    next expected bytes fails at once with both sides in hex. `assert_done()` fails if the
    client stopped before the script's end.
    """

    def __init__(self, script: Sequence[tuple[bytes, bytes]]) -> None:
        self.script = list(script)
        self.timeout: float | None = 1.0
        self.written: list[bytes] = []
        self.closed = False
        self._rx = bytearray()

    def write(self, data: bytes) -> int:
        data = bytes(data)
        self.written.append(data)
        if not self.script:
            raise AssertionError(f"unexpected write {data.hex(' ').upper()}: script exhausted")
        expected, reply = self.script.pop(0)
        if data != expected:
            raise AssertionError(
                f"client wrote {data.hex(' ').upper()}\n     expected {expected.hex(' ').upper()}"
            )
        self._rx += reply
        return len(data)

    @property
    def in_waiting(self) -> int:
        return len(self._rx)

    def read(self, size: int = 1) -> bytes:
        if not self._rx:
            time.sleep(min(self.timeout or 0.0, 0.005))
            return b""
        out = bytes(self._rx[:size])
        del self._rx[:size]
        return out

    def reset_input_buffer(self) -> None:
        self._rx.clear()

    def close(self) -> None:
        self.closed = True

    def assert_done(self) -> None:
        assert not self.script, f"{len(self.script)} scripted exchange(s) never happened"


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
