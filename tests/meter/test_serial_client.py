"""The one retry rule both meter clients follow (rig.meter.serial_client)."""

from __future__ import annotations

import pytest

from rig.errors import ProtocolError
from rig.meter.serial_client import MeterTimeout, SerialClient


class _SilentPort:
    timeout: float | None = None

    def write(self, data: bytes, /) -> int | None:
        return len(data)

    def read(self, size: int = 1, /) -> bytes:
        return b""

    def reset_input_buffer(self) -> None:
        pass

    def close(self) -> None:
        pass


def _client(retries: int) -> SerialClient:
    return SerialClient(_SilentPort(), timeout=0.05, retries=retries, transcript=None)


def test_an_attempt_that_succeeds_after_faults_returns_its_result_and_recovers_between() -> None:
    calls: list[str] = []

    def attempt(n: int) -> str:
        calls.append(f"try {n}")
        if n < 3:
            raise MeterTimeout("silence")
        return "reply"

    result = _client(2).with_retries(
        attempt, retry_on=(MeterTimeout,), fault=lambda e, n: e,
        recover=lambda: calls.append("recover"))
    assert result == "reply"
    assert calls == ["try 1", "recover", "try 2", "recover", "try 3"]


def test_when_every_attempt_fails_the_last_attempts_worded_fault_is_raised() -> None:
    def attempt(n: int) -> str:
        raise MeterTimeout(f"silence {n}")

    with pytest.raises(MeterTimeout, match=r"^read X: silence 2 \(attempt 2 of 2\)$"):
        _client(1).with_retries(
            attempt, retry_on=(MeterTimeout,),
            fault=lambda e, n: MeterTimeout(f"read X: {e} (attempt {n} of 2)"))


def test_a_fault_not_worth_retrying_is_the_meters_answer_and_propagates_at_once() -> None:
    tries: list[int] = []

    def attempt(n: int) -> str:
        tries.append(n)
        raise ProtocolError("abnormal reply")

    with pytest.raises(ProtocolError, match="abnormal reply"):
        _client(5).with_retries(attempt, retry_on=(MeterTimeout,), fault=lambda e, n: e)
    assert tries == [1]


def test_reading_a_silent_line_times_out_naming_what_was_awaited() -> None:
    with pytest.raises(MeterTimeout, match=r"^sign-on of meter 42: no reply within 0\.05 s$"):
        _client(0)._read_until(lambda chunk: chunk, "sign-on of meter 42", 0.05)
