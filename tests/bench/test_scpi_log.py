"""The load's SCPI log: every command and reply with its bench time, secrets redacted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from rig.bench.scpi_log import ScpiLog, record_scpi, redact
from rig.load.dialects import get_dialect
from rig.load.driver import ElectronicLoad

T0 = datetime(2026, 3, 4, 8, 0, tzinfo=UTC)


class FakeResource:
    """A VISA resource answering like the rig-sim load: no error, input on, 230 V."""

    def __init__(self) -> None:
        self.last = ""

    def write(self, command: str) -> None:
        self.last = command

    def read(self) -> str:
        if self.last == "*ESR?":
            return "0"
        if "ERR" in self.last:
            return '0,"No error"'
        return "1" if "INP" in self.last else "230.000"

    def close(self) -> None:
        pass


def test_commands_and_replies_are_logged_with_bench_time() -> None:
    clock = iter(T0 + timedelta(seconds=n) for n in range(100))
    log = ScpiLog(lambda: next(clock))
    load = ElectronicLoad(FakeResource(), get_dialect("rig-sim"), resource="TCPIP0::sim")
    record_scpi(load, log)
    load.set_power(Decimal("1500"))
    assert load.input_state() is True
    lines = log.to_text().splitlines()
    assert lines[0].startswith("2026-03-04T08:00:00.000+00:00 > ") and "1500" in lines[0]
    assert any(line.endswith("> *ESR?") for line in lines)  # the status check
    assert any(line.endswith("< 0") for line in lines)
    assert lines[-1].endswith("< 1")
    assert len(log) == len(lines)


def test_password_arguments_are_redacted() -> None:
    assert redact('SYST:PASS "1234"') == "SYST:PASS <redacted>"
    assert redact(":SYSTem:PASSword:CENable 0xBEEF") == ":SYSTem:PASSword:CENable <redacted>"
    assert redact("POW 1500") == "POW 1500"


def test_log_is_bounded_and_says_what_it_dropped() -> None:
    log = ScpiLog(lambda: T0, max_lines=3)
    for n in range(5):
        log.add(">", f"CMD {n}")
    text = log.to_text().splitlines()
    assert text[0] == "... 2 earlier lines dropped"
    assert [line.split()[-1] for line in text[1:]] == ["2", "3", "4"]
