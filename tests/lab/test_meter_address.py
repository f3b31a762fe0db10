"""A bench's meter is one unit of its model: its own address reaches the meter firmware, the
protocol client, the bench identity and the steps, whether set in the config or by `rig sim`."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from rig.bench.bench import open_bench
from rig.bench.config import BenchConfig, MeterPort
from rig.errors import ConfigError
from rig.profile import load_profile, with_address
from rig.report.record import RunRecord
from rig.scenarios.steps import BenchSteps
from rig.sim.emulated_bench import EmulatedBench
from tests.lab.service import child_env

ADDRESS = "424242424242"


@pytest.mark.parametrize("name", ["dlt645-1p-money", "iec62056-1p-energy"])
def test_configured_address_is_the_benchs_meter(name: str) -> None:
    config = BenchConfig(profile=name, time_scale=3600.0, meter=MeterPort(address=ADDRESS))
    with open_bench(config) as bench:
        assert bench.parts["meter_address"] == ADDRESS
        assert bench.profile.protocol.address == ADDRESS
        assert bench.meter.read_address() == ADDRESS  # over the pty, in the profile's protocol
        assert bench.identity["meter_address"] == ADDRESS
        record = RunRecord("address", identity=bench.identity)
        steps = BenchSteps(bench, None, record)  # type: ignore[arg-type]  # no vending here
        assert steps.meter_no == ADDRESS


def test_attached_sim_brings_its_address() -> None:
    profile = load_profile("dlt645-1p-money")
    with EmulatedBench(profile, address=ADDRESS) as sim:
        assert sim.parts is not None
        control = sim.parts.control
        with open_bench(BenchConfig(sim_control=control)) as bench:
            assert bench.profile.protocol.address == ADDRESS
            assert bench.meter.read_address() == ADDRESS
        other = BenchConfig(sim_control=control, meter=MeterPort(address="000000000007"))
        with pytest.raises(ConfigError, match=r"meter address 424242424242, not meter\.address"), \
                open_bench(other):
            pass


def test_address_is_validated_like_the_profiles() -> None:
    profile = load_profile("dlt645-1p-money")
    with pytest.raises(ConfigError, match=r"'12AB' for profile 'dlt645-1p-money'.*12 decimal"):
        with_address(profile, "12AB")
    assert with_address(profile, profile.protocol.address) is profile


def test_rig_sim_serves_the_address_it_is_given() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "rig.cli.main", "sim", "--json", "--address", ADDRESS],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env())
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else ""
        parts = json.loads(line)
        assert parts["meter_address"] == ADDRESS
        with open_bench(BenchConfig(sim_control=parts["control"])) as bench:
            assert bench.meter.read_address() == ADDRESS
            assert bench.identity["meter_address"] == ADDRESS
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
