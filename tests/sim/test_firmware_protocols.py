"""The emulated meter firmware read through `open_meter` over a real pty, for a DL/T 645 and
an IEC 62056-21 profile: semantic reads agree with the engine, alarm-2 trip and card
insertion, cut-off time, and DL/T 645 relay control guarded by the profile's password."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from rig.meter.client import MeterClient, open_meter
from rig.meter.dlt645.client import MeterAbnormalReply, RelayCommand
from rig.profile import load_profile
from rig.sim.emulated_bench import lab_master_key
from rig.sim.meter_firmware import EmulatedMeter
from rig.sim.pty_port import PtySerialEndpoint
from rig.sim.world import BenchWorld

EPOCH = datetime(2026, 3, 4, 8, 0, tzinfo=UTC)  # a Wednesday morning: no friendly period
H = 3600.0


class HandClock:
    """BenchClock's interface, moved by the test."""

    def __init__(self) -> None:
        self.t = 0.0
        self.epoch = EPOCH

    def elapsed(self) -> float:
        return self.t

    def at(self, bench_seconds: float) -> datetime:
        return self.epoch + timedelta(seconds=bench_seconds)

    def now(self) -> datetime:
        return self.at(self.t)


class Bench:
    def __init__(self, profile_name: str) -> None:
        self.profile = load_profile(profile_name)
        self.clock = HandClock()
        self.world = BenchWorld(self.profile, self.clock, noise=False)  # type: ignore[arg-type]
        self.meter = EmulatedMeter(self.world, lab_master_key())
        self.pty = PtySerialEndpoint(self.meter.on_serial_bytes)
        self.path = self.pty.start()
        self.client: MeterClient = open_meter(self.profile, self.path, parity="N", tz=UTC)

    def load(self, watts: int) -> None:
        self.world.load.set_power(Decimal(watts))
        self.world.load.set_input(watts > 0)

    def hours(self, h: float) -> None:
        self.clock.t += h * H
        self.world.advance()

    def close(self) -> None:
        self.client.close()
        self.pty.stop()


@pytest.fixture
def bench(request: pytest.FixtureRequest) -> Iterator[Bench]:
    b = Bench(request.param)
    try:
        yield b
    finally:
        b.close()


@pytest.mark.parametrize("bench", ["dlt645-1p-money", "iec62056-1p-energy"], indirect=True)
def test_semantic_reads_match_the_engine(bench: Bench) -> None:
    c, e = bench.client, bench.meter.engine
    assert c.read_address() == bench.profile.protocol.address
    assert c.remaining_credit() == 0 and c.status().relay_open
    assert c.last_cutoff_time() is None
    e.apply_purchase(1, 3_000, bench.clock.now())  # 30 CNY or 3 kWh
    bench.load(1000)
    bench.hours(0.5)
    assert c.energy_kwh() == Decimal("0.5")
    expected = Decimal("29.75") if e.profile.credit.unit == "money" else Decimal("2.5")
    assert c.remaining_credit() == expected and c.overdraft() == 0
    s = c.status()
    assert not s.relay_open
    # DL/T 645 status word 3 carries no alarm-1 bit; the IEC status word does.
    alarm1 = expected <= bench.profile.thresholds.alarm1
    assert s.alarm1 == (None if bench.profile.protocol.kind == "dlt645-2007" else alarm1)


def test_iec_alarm2_trip_card_clears_then_cutoff_time() -> None:
    b = Bench("iec62056-1p-energy")
    try:
        c, e = b.client, b.meter.engine
        e.apply_purchase(1, 3_000, b.clock.now())  # 3 kWh; alarm 2 at 2 kWh trips
        b.load(2000)
        b.hours(1)  # 1 kWh at 2 kW: alarm 2 trips at 08:30, nothing flows after
        s = c.status()
        assert s.relay_open and s.alarm2 and not s.friendly_period
        assert c.remaining_credit() == Decimal("2.000")
        assert c.last_cutoff_time() is None  # a warning trip is not a cut-off
        assert e.card_inserted(b.clock.now())
        assert not c.status().relay_open
        b.hours(2)  # 2 kWh + 1 kWh overdraft at 2 kW: automatic emergency at 10:30
        s = c.status()
        assert s.emergency_active and not s.relay_open
        assert c.overdraft() == Decimal("2.000")  # own balance 1 - 3 lent
        b.hours(2)  # the 3 kWh lent at 10:30 run out 1.5 h later: cut-off at 12:00
        assert c.status().relay_open
        assert c.last_cutoff_time() == EPOCH + timedelta(hours=4)
        assert c.overdraft() == Decimal("4.000") and c.energy_kwh() == Decimal("7.000")
        assert c.transcript.entries[0].data == b"/?000010020001!\r\n"
    finally:
        b.close()


@pytest.mark.parametrize("bench", ["dlt645-1p-money"], indirect=True)
def test_dlt645_relay_control_needs_the_profile_password(bench: Bench) -> None:
    c, e = bench.client, bench.meter.engine
    e.apply_purchase(1, 5_000, bench.clock.now())
    dlt = c.protocol  # type: ignore[attr-defined]
    until = (EPOCH + timedelta(days=1)).replace(tzinfo=None)
    with pytest.raises(MeterAbnormalReply, match="password"):
        dlt.relay_control(RelayCommand.TRIP, password=bytes.fromhex("02999999"),
                          valid_until=until)
    assert not c.status().relay_open
    dlt.relay_control(RelayCommand.TRIP, valid_until=until)
    assert c.status().relay_open
    dlt.relay_control(RelayCommand.CLOSE_DIRECT, valid_until=until)
    assert not c.status().relay_open


@pytest.mark.parametrize("bench", ["dlt645-3p-power-limit"], indirect=True)
def test_dlt645_relay_control_refused_when_profile_disables_it(bench: Bench) -> None:
    dlt = bench.client.protocol  # type: ignore[attr-defined]
    with pytest.raises(MeterAbnormalReply, match=r"C=1C .*abnormal reply C=DC .*password"):
        dlt.relay_control(RelayCommand.TRIP, password=bytes.fromhex("02123456"),
                          valid_until=datetime(2027, 1, 1))


def test_wire_pacing_holds_replies_for_their_wire_time() -> None:
    b = Bench("dlt645-1p-money")
    try:
        b.meter.wire_pacing = True
        assert b.meter.char_time_s() == pytest.approx(11 / 2400)  # 8E1: 11 bits a character
        start = time.monotonic()
        b.client.remaining_credit()  # reply: 4 FE + 10 header + 8 data + CS + 16 = 24 chars
        assert time.monotonic() - start >= 24 * 11 / 2400
    finally:
        b.close()
