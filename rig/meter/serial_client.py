"""What every serial meter client shares: the port, the transcript, reading with a deadline,
and one retry helper.

A meter line drops and corrupts bytes; each protocol client (DL/T 645, IEC 62056-21) decides
which faults are worth another attempt and how its error names the step, but the attempt
counting, the recovery between attempts and the final error follow one rule, written here
once. Importing this module does not import pyserial.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType
from typing import Protocol, Self, TypeVar

from rig.errors import ProtocolError
from rig.meter.transcript import Transcript

POLL_INTERVAL = 0.05  # upper bound of one blocking read, so deadlines are honoured

T = TypeVar("T")


class SerialPort(Protocol):
    """The part of pyserial's SerialBase the clients use (a pyserial port, or a scripted fake)."""

    timeout: float | None

    def write(self, data: bytes, /) -> int | None: ...

    def read(self, size: int = 1, /) -> bytes: ...

    def reset_input_buffer(self) -> None: ...

    def close(self) -> None: ...


class MeterTimeout(ProtocolError):
    """The meter did not answer a request within the timeout, after all retries."""


class SerialClient:
    """A protocol master on an open serial port: `timeout` per reply, `retries` after the
    first attempt, every byte in `transcript`."""

    def __init__(self, port: SerialPort, *, timeout: float, retries: int,
                 transcript: Transcript | None) -> None:
        self._port = port
        self.timeout = timeout
        self.retries = retries
        self.transcript = transcript if transcript is not None else Transcript()

    @property
    def attempts(self) -> int:
        return self.retries + 1

    def close(self) -> None:
        self._port.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def with_retries(
        self,
        attempt: Callable[[int], T],
        *,
        retry_on: tuple[type[ProtocolError], ...],
        fault: Callable[[ProtocolError, int], ProtocolError],
        recover: Callable[[], None] | None = None,
    ) -> T:
        """Run ``attempt(n)`` for n = 1 .. `attempts` until one returns.

        An exception of `retry_on` ends that attempt: `recover` puts the line back in its
        starting state and ``fault(exc, n)`` words the error; the last one is raised when
        every attempt failed. Any other exception (an abnormal reply, a meter error message)
        is the meter's answer and propagates at once.
        """
        last: ProtocolError | None = None
        for n in range(1, self.attempts + 1):
            try:
                return attempt(n)
            except retry_on as exc:
                if recover is not None:
                    recover()
                last = fault(exc, n)
        assert last is not None  # attempts >= 1
        raise last

    def _read_until(self, done: Callable[[bytes], T | None], what: str, limit: float) -> T:
        """Read what arrives until ``done(chunk)`` returns a result; `MeterTimeout` naming
        `what` after `limit` seconds. Every chunk goes to the transcript as received."""
        deadline = time.monotonic() + limit
        poll = min(limit, POLL_INTERVAL)
        if self._port.timeout != poll:
            self._port.timeout = poll
        while time.monotonic() < deadline:
            chunk = self._port.read(1)
            if not chunk:
                continue
            waiting = getattr(self._port, "in_waiting", 0)
            if waiting:
                chunk += self._port.read(waiting)
            self.transcript.add("rx", chunk)
            result = done(chunk)
            if result is not None:
                return result
        raise MeterTimeout(f"{what}: no reply within {limit:.2f} s")
