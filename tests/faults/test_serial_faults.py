"""Serial-line faults between rig and meter: the client retries, never accepts garbage."""

from __future__ import annotations

import pytest

from rig.bench.bench import open_bench
from rig.bench.config import BenchConfig, SerialFaultRates
from rig.errors import ConfigError, ProtocolError
from rig.faults.serial_proxy import SerialFaults


def faulty(config: BenchConfig, **rates: float) -> BenchConfig:
    meter = config.meter.model_copy(update={
        "faults": SerialFaultRates(**rates), "retries": 10, "timeout_s": 0.3})
    return config.model_copy(update={"meter": meter})


@pytest.mark.bench
def test_dead_line_fails_with_a_clear_error(bench_config: BenchConfig) -> None:
    config = faulty(bench_config, drop=1.0)
    with open_bench(config) as bench, pytest.raises(ProtocolError) as err:
        bench.meter.remaining_credit()
    message = str(err.value)
    assert "00900200" in message
    assert bench.profile.protocol.address in message


def test_fault_rates_are_validated() -> None:
    with pytest.raises(ConfigError, match="corrupt"):
        SerialFaults(corrupt=1.5)
    with pytest.raises(ConfigError, match="delay_ms"):
        SerialFaults(delay_ms=-1)
