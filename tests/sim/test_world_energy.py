"""The bench physics: grid events, gating of the current, and load vs meter energy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from rig.load.dialects import LoadMode
from rig.profile import load_profile
from rig.sim.world import BenchWorld

EPOCH = datetime(2026, 3, 4, 8, 0, tzinfo=UTC)  # a Wednesday morning, no friendly period
H = 3600.0


class HandClock:
    """Same interface as rig.clock.BenchClock, moved by the test instead of the wall clock."""

    def __init__(self) -> None:
        self.t = 0.0
        self.epoch = EPOCH

    def elapsed(self) -> float:
        return self.t

    def at(self, bench_seconds: float) -> datetime:
        return self.epoch + timedelta(seconds=bench_seconds)

    def now(self) -> datetime:
        return self.at(self.t)

    def run(self, world: BenchWorld, seconds: float, step: float) -> None:
        """Advance in uneven steps, integrating at each (what the 10 ms ticker does)."""
        end = self.t + seconds
        i = 0
        while self.t < end:
            self.t = min(end, self.t + step * (1 + (i % 3)))  # 1x, 2x, 3x the step
            world.advance()
            i += 1


def _world(credit_units: int) -> tuple[BenchWorld, HandClock]:
    clock = HandClock()
    world = BenchWorld(load_profile("dlt645-1p-money"), clock, noise=True, seed=5)
    world.engine.apply_purchase(1, credit_units, clock.now())
    assert world.engine.relay_closed
    return world, clock


def test_load_energy_agrees_with_the_meter_register_within_its_class() -> None:
    world, clock = _world(10_000)  # 100 CNY at 0.5 CNY/kWh: 200 kWh, no cut-off here
    load = world.load
    load.set_mode(LoadMode.CP)
    load.set_power(Decimal("2345.6"))
    load.set_input(True)
    clock.run(world, 5 * H, step=37.3)
    load.set_mode(LoadMode.CC)  # a change mid-run: integrated up to its instant first
    load.set_current(Decimal("7.25"))
    clock.run(world, 3 * H, step=11.9)
    true_wh = world.load_energy_wh()
    expected = Decimal("2345.6") * 5 + Decimal("7.25") * 220 * 3
    assert abs(true_wh - expected) < Decimal("0.001")
    meter_wh = Decimal(world.engine.energy_wh)
    assert abs(meter_wh - true_wh) < 1  # whole-Wh register: below one Wh apart
    reading = load.energy_reading()  # what the load reports over SCPI, with its noise
    accuracy_class = Decimal(world.profile.metering.accuracy_class) / 100  # class 1: 1 %
    assert abs(meter_wh - reading) <= reading * accuracy_class


def test_no_current_without_relay_or_input_and_cutoff_stops_the_load_register() -> None:
    world, clock = _world(500)  # 5 CNY = 10 kWh, then cut-off
    load = world.load
    load.set_power(Decimal(2000))
    clock.run(world, H, step=60)
    assert world.load_energy_wh() == 0 and world.engine.energy_wh == 0  # input off
    load.set_input(True)
    clock.run(world, 10 * H, step=1800)  # coarse steps: the cut-off falls inside one
    assert not world.engine.relay_closed
    cutoff = world.engine.events.last_cutoff
    assert cutoff is not None
    drawn = world.load_energy_wh()
    assert abs(drawn - world.engine.energy_wh) < 1  # stopped at the trip, not at the step end
    on_s = Decimal((cutoff - EPOCH).total_seconds() - H)
    assert abs(drawn - 2000 * on_s / 3600) < Decimal("0.01")
    assert world.supply().connected is False and load.drawn_power() == 0
    assert load.measure()[1] < Decimal("0.005")  # idle current reading within its offset
    clock.run(world, H, step=60)
    assert world.load_energy_wh() == drawn


def test_sag_and_swell_change_the_voltage_for_their_duration_only() -> None:
    world, clock = _world(10_000)
    load = world.load
    load.set_mode(LoadMode.CR)
    load.set_resistance(Decimal(22))  # 220 V → 10 A, 2200 W
    load.set_input(True)
    clock.run(world, 600, step=7)
    world.sag(Decimal("0.5"), duration_s=1200)  # to 110 V: a quarter of the power
    assert world.voltage == 110
    clock.run(world, 600, step=7)
    world.swell(Decimal("0.1"), duration_s=300)  # on top of the sag: 121 V
    assert world.voltage == Decimal("121.00")
    clock.run(world, 3000, step=113)  # both end inside the steps
    assert world.voltage == 220
    expected_j = (Decimal(2200) * 600 + Decimal(550) * 900 + Decimal("121") ** 2 / 22 * 300
                  + Decimal(2200) * 2400)  # 4200 s in all
    assert abs(world.load_energy_wh() - expected_j / 3600) < Decimal("0.001")
    assert abs(world.engine.energy_wh - expected_j / 3600) < 1


@pytest.mark.parametrize(("call", "bad"), [("sag", "0"), ("sag", "1.5"), ("swell", "-0.1")])
def test_grid_events_refuse_nonsense(call: str, bad: str) -> None:
    world, _ = _world(100)
    with pytest.raises(ValueError, match=call):
        getattr(world, call)(Decimal(bad), 10)
    with pytest.raises(ValueError, match="duration"):
        world.sag(Decimal("0.2"), 0)
    with pytest.raises(ValueError, match="voltage"):
        world.set_voltage(Decimal(-1))


def test_power_limit_trips_the_relay_through_the_physics_and_recloses() -> None:
    """3-phase profile, 10 kW limit, 60 s reconnection: a 12 kW load trips the relay at once,
    the load then sees 0 V and draws nothing; after 60 s the relay recloses and, the load still
    over the limit, trips again. Below the limit it stays closed."""
    clock = HandClock()
    profile = load_profile("dlt645-3p-power-limit")
    world = BenchWorld(profile, clock, noise=False)
    assert world.load.limits.max_power == 15000  # sized 1.5x the limit for this bench
    world.engine.apply_purchase(1, 100_000, clock.now())  # 1000 CNY
    world.load.set_mode(LoadMode.CP)
    world.load.set_power(Decimal(12000))
    world.load.set_input(True)
    clock.t += 1
    world.advance()
    e = world.engine
    assert not e.relay_closed and e.relay_reason == "power limit"
    assert e.events.power_trip_count == 1 and e.events.last_power_trip == EPOCH
    assert world.load.measure() == (Decimal("0.000"), Decimal("0.0000"), Decimal("0.000"))
    assert e.energy_wh == 0 and world.load_energy_wh() == 0
    clock.t = 61
    world.advance()
    assert e.events.power_trip_count == 2 and not e.relay_closed  # reclosed at 60 s, re-tripped
    world.load.set_power(Decimal(9000))
    clock.t = 120 + 3600
    world.advance()
    assert e.relay_closed and e.events.power_trip_count == 2
    assert world.load_energy_wh() == 9000  # the load counted the same seconds
    assert e.energy_wh == 9000  # one hour at 9 kW from the reconnection at 120 s (60 + 60)


def test_cutoff_deferred_by_a_friendly_period_happens_at_its_end_with_no_load() -> None:
    """IEC profile, friendly 18:00-07:00: credit runs out at night, the load is switched off
    before morning; the meter still cuts off at 07:00 by its clock, not at the next load-on."""
    clock = HandClock()
    clock.epoch = datetime(2026, 3, 4, 20, 0, tzinfo=UTC)  # Wednesday night, friendly
    world = BenchWorld(load_profile("iec62056-1p-energy"), clock, noise=False)
    world.engine.apply_purchase(1, 1_000, clock.now())  # 1 kWh
    world.load.set_power(Decimal(2000))
    world.load.set_input(True)
    clock.t = 3 * H  # 6 kWh at 2 kW by 23:00: deep below the cut-off level, relay still closed
    world.advance()
    assert world.engine.relay_closed and world.engine.credit < -1
    world.load.set_input(False)
    clock.t = 12 * H  # 08:00 next morning, nothing drawn since 23:00
    world.advance()
    e = world.engine
    assert not e.relay_closed and e.events.last_cutoff == datetime(2026, 3, 5, 7, 0, tzinfo=UTC)


def test_power_limit_trip_recloses_after_the_delay_with_no_current_flowing() -> None:
    """The meter's clock runs while its relay is open: a power-limit trip recloses by itself
    (the world used to integrate nothing at zero current, so it never did)."""
    clock = HandClock()
    profile = load_profile("dlt645-3p-power-limit")
    world = BenchWorld(profile, clock, noise=False)
    world.engine.apply_purchase(1, 100_000, clock.now())
    load = world.load
    assert load.limits.max_power >= Decimal(15000)  # sized to exceed the meter's 10 kW limit
    load.set_power(Decimal(12000))
    load.set_input(True)
    clock.run(world, 10, step=1)
    assert not world.engine.relay_closed and world.engine.events.power_trip_count == 1
    load.set_power(Decimal(5000))  # below the limit while the relay is open
    clock.run(world, 40, step=1)
    assert not world.engine.relay_closed  # 50 s after the trip: still inside the delay
    clock.run(world, 15, step=1)
    assert world.engine.relay_closed
    assert world.engine.events.last_reconnect == clock.at(60)
    assert world.power_through_meter() == Decimal(5000)
