"""A step bounded in bench time runs with the bench clock slowed: bench time goes on without
a jump, the emulated bench and the rig keep computing the same time, and inside the block a
bench second lasts a real second however loaded the machine is (the tariff-change scenario's
vend before the effective date relies on it)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from rig import clock as clock_module
from rig.bench.bench import Bench
from rig.clock import BenchClock

EPOCH = datetime(2026, 3, 4, 8, 0, tzinfo=UTC)


def test_rescale_goes_on_from_the_same_bench_time(monkeypatch: pytest.MonkeyPatch) -> None:
    wall = [1000.0]
    monkeypatch.setattr(clock_module.time, "time", lambda: wall[0])
    clock = BenchClock(EPOCH, wall_t0=1000.0, scale=3600.0)
    wall[0] = 1002.0
    assert clock.now() == EPOCH + timedelta(hours=2)
    clock.rescale(1.0)
    assert clock.now() == EPOCH + timedelta(hours=2)  # no jump
    wall[0] = 1012.0
    assert clock.now() == EPOCH + timedelta(hours=2, seconds=10)  # now at real time
    clock.rescale(3600.0)
    wall[0] = 1013.0
    assert clock.now() == EPOCH + timedelta(hours=3, seconds=10)
    copy = BenchClock.from_dict(clock.to_dict())  # the other side computes the same time
    assert copy.now() == clock.now() and copy.elapsed() == clock.elapsed()


def test_a_clock_adopts_only_its_own_bench() -> None:
    clock = BenchClock(EPOCH, wall_t0=time.time(), scale=60.0)
    other = BenchClock(EPOCH + timedelta(days=1), wall_t0=time.time(), scale=60.0)
    with pytest.raises(ValueError, match="not this bench's"):
        clock.adopt(other.to_dict())
    with pytest.raises(ValueError, match="positive"):
        clock.rescale(0)


@pytest.mark.bench
def test_a_slowed_step_runs_at_real_time_on_both_sides(bench: Bench) -> None:
    assert bench.sim is not None
    fast = bench.clock.scale
    assert fast > 1
    before = bench.now()
    with bench.clock_slowed():
        assert bench.clock.scale == 1.0
        # the emulated bench (meter, load, world) runs on the very same span
        assert bench.sim.call("clock")["clock"] == bench.clock.to_dict()
        r0, t0 = time.time(), bench.now()
        time.sleep(0.2)
        t1, r1 = bench.now(), time.time()
        slowed = (t1 - t0).total_seconds()
        assert 0.2 <= slowed <= (r1 - r0) + 0.001  # bench seconds = real seconds, any load
    assert bench.clock.scale == fast
    assert bench.sim.call("clock")["clock"] == bench.clock.to_dict()
    after = bench.now()
    assert before <= t0 < t1 <= after  # bench time ran on, never back
    t2 = bench.now()
    time.sleep(0.05)
    assert (bench.now() - t2).total_seconds() >= 0.05 * fast  # full speed again
