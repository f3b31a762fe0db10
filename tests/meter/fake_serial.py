"""A scripted stand-in for a pyserial port, in the spirit of PyMeasure's expected_protocol.

Each script step is ``(expected_bytes_written, bytes_to_return)``; writing anything other than
the next expected bytes fails the test at once with both sides in hex.
"""

from __future__ import annotations

import time


class ScriptedSerial:
    def __init__(self, script: list[tuple[bytes, bytes]]) -> None:
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
