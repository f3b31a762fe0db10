"""The emulated bench's sim-only hooks: a chosen clock start and the meter's keypad."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rig.bench.control import ControlClient
from rig.clock import BenchClock
from rig.errors import RigError
from rig.profile import load_profile
from rig.sim.emulated_bench import EmulatedBench

EPOCH = datetime(2026, 3, 4, 8, 0, tzinfo=UTC)


def test_clock_epoch_and_emergency_credit_key_over_the_control_channel() -> None:
    with EmulatedBench(load_profile("dlt645-1p-money"), time_scale=3600.0,
                       epoch=EPOCH) as bench:
        assert bench.parts is not None
        control = ControlClient(bench.parts.control)
        try:
            clock = BenchClock.from_dict(control.call("hello")["clock"])
            assert clock.epoch == EPOCH
            engine = bench.world.engine
            assert not engine.relay_closed  # a new meter: no credit yet
            # credit 0 is below alarm 2: the loan is granted once and closes the relay
            assert control.call("meter_key", key="emergency_credit")["granted"] is True
            assert engine.relay_closed and engine.emergency_outstanding == 5
            assert control.call("meter_key", key="emergency_credit")["granted"] is False
            with pytest.raises(RigError, match="unknown meter key 'reset'"):
                control.call("meter_key", key="reset")
        finally:
            control.close()
