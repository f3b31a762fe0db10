"""Physics and state of the emulated load (what the bench world consults)."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rig.load import ElectronicLoad, LoadMode
from rig.sim.emulated_load import CURRENT_SPEC, POWER_SPEC, EmulatedLoad, ScpiError, Supply
from rig.sim.scpi_server import ScpiServer

MAINS = Supply(Decimal(230), True)
OPEN_RELAY = Supply(Decimal(230), False)


def test_cp_draws_the_set_point_only_when_on_and_connected() -> None:
    supply = MAINS
    load = EmulatedLoad(lambda: supply, noise=False)
    load.set_power(Decimal("1500.5"))
    assert load.drawn_power() == 0
    load.set_input(True)
    assert load.drawn_power() == Decimal("1500.5")
    supply = OPEN_RELAY
    assert load.drawn_power() == 0
    volts, amps, watts = load.measure()
    assert (volts, amps, watts) == (0, 0, 0)


def test_cc_and_cr_physics() -> None:
    load = EmulatedLoad(lambda: MAINS, noise=False)
    load.set_input(True)
    load.set_mode(LoadMode.CC)
    load.set_current(Decimal("2.5"))
    assert load.drawn_power() == Decimal("575.0")
    load.set_mode(LoadMode.CR)
    load.set_resistance(Decimal(46))
    assert load.drawn_power() == Decimal(1150)


def test_cp_is_current_limited_at_low_voltage() -> None:
    load = EmulatedLoad(lambda: Supply(Decimal(100), True), noise=False)
    load.set_power(Decimal(3000))
    load.set_input(True)
    assert load.drawn_power() == Decimal(2000)  # 20 A × 100 V


@pytest.mark.parametrize(
    ("setter", "value"),
    [("set_power", "3000.001"), ("set_power", "-1"), ("set_current", "20.5"),
     ("set_resistance", "0.1")],
)
def test_out_of_range_is_minus_222_and_changes_nothing(setter: str, value: str) -> None:
    calls: list[int] = []
    load = EmulatedLoad(lambda: MAINS, before_change=lambda: calls.append(1))
    with pytest.raises(ScpiError) as info:
        getattr(load, setter)(Decimal(value))
    assert (info.value.code, info.value.message) == (-222, "Data out of range")
    assert calls == []
    assert load.power_setpoint == 0 and load.current_setpoint == 0


def test_before_change_sees_the_old_state() -> None:
    seen: list[Decimal] = []
    load: EmulatedLoad

    def integrate() -> None:
        seen.append(load.drawn_power())  # must not deadlock: called outside the state lock

    load = EmulatedLoad(lambda: MAINS, before_change=integrate, noise=False)
    load.set_power(Decimal(1000))
    load.set_input(True)
    load.set_power(Decimal(500))
    load.set_input(False)
    assert seen == [0, 0, 1000, 500]
    assert load.drawn_power() == 0


def test_disconnected_supply_reads_no_current_through_scpi() -> None:
    load = EmulatedLoad(lambda: OPEN_RELAY, seed=3)
    with ScpiServer(load) as server, ElectronicLoad.open(server.resource, timeout_ms=1000) as el:
        el.set_power(Decimal(2000))
        el.input_on()
        assert el.input_state() is True
        for _ in range(20):
            assert abs(el.measure().current) < Decimal("0.005")
        assert load.drawn_power() == 0


@settings(max_examples=60, deadline=None)
@given(
    watts=st.decimals(min_value=0, max_value=3000, places=3),
    volts=st.decimals(min_value=180, max_value=260, places=2),
    seed=st.integers(0, 2**32),
)
def test_noise_stays_within_the_documented_spec(watts: Decimal, volts: Decimal, seed: int) -> None:
    load = EmulatedLoad(lambda: Supply(volts, True), seed=seed)
    load.set_power(watts)
    load.set_input(True)
    _, amps, measured = load.measure()
    true_amps = watts / volts
    assert abs(measured - watts) <= watts * POWER_SPEC[0] + POWER_SPEC[1] + Decimal("0.001")
    amps_bound = true_amps * CURRENT_SPEC[0] + CURRENT_SPEC[1] + Decimal("0.0001")
    assert abs(amps - true_amps) <= amps_bound


def test_seeded_noise_is_reproducible() -> None:
    a = EmulatedLoad(lambda: MAINS, seed=42)
    b = EmulatedLoad(lambda: MAINS, seed=42)
    assert [a.measure() for _ in range(5)] == [b.measure() for _ in range(5)]


def test_concurrent_changes_are_serialised() -> None:
    load = EmulatedLoad(lambda: MAINS, noise=False)

    def hammer(n: int) -> None:
        for i in range(200):
            load.set_power(Decimal(n * 1000 + i % 3))
            load.set_input(i % 2 == 0)
            load.measure()

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert load.power_setpoint in {Decimal(n * 1000 + 199 % 3) for n in range(3)}


def test_reset_restores_defaults() -> None:
    load = EmulatedLoad(lambda: MAINS)
    load.set_mode(LoadMode.CC)
    load.set_current(Decimal(3))
    load.set_input(True)
    load.reset()
    assert (load.input_on, load.mode, load.current_setpoint) == (False, LoadMode.CP, 0)
    assert load.idn == "rig,SimLoad-AC,SIM0001,0.1.0"
