"""Serial-line faults between rig and meter: the client retries, never accepts garbage, and the
prepaid cycle still completes with the books balanced."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest

from rig.bench.bench import open_bench
from rig.bench.config import BenchConfig, SerialFaultRates
from rig.bench.serial_proxy import SerialFaults
from rig.clock import BenchClock
from rig.errors import ConfigError, ProtocolError, RigError
from rig.faults.serial_audit import checksum_escapes, forgeries
from rig.faults.serial_campaign import run_serial_case
from rig.meter.dlt645 import data_ids
from rig.meter.dlt645.client import Dlt645Client
from rig.meter.dlt645.frame import Frame, FrameParser, decode_frame, encode_frame
from rig.profile import load_profile
from rig.scenarios.steps import BenchSteps, MeterState, agreed
from rig.sim.emulated_bench import lab_master_key
from rig.sim.meter_firmware import FRAME_GAP_S, EmulatedMeter
from rig.sim.world import BenchWorld
from rig.testing import ScriptedSerial


def faulty(config: BenchConfig, **rates: float) -> BenchConfig:
    meter = config.meter.model_copy(update={
        "faults": SerialFaultRates(**rates), "retries": 10, "timeout_s": 0.3})
    return config.model_copy(update={"meter": meter})


@pytest.mark.bench
@pytest.mark.parametrize("rates", [{"drop": 1.0}, {"corrupt": 1.0}], ids=["dead", "garbled"])
def test_hopeless_line_fails_with_a_clear_error(bench_config: BenchConfig,
                                                rates: dict[str, float]) -> None:
    config = faulty(bench_config, **rates)
    with open_bench(config) as bench, pytest.raises(ProtocolError) as err:
        bench.meter.remaining_credit()
    message = str(err.value)
    assert "DI=00900200" in message  # the exchange: data identifier ...
    assert bench.profile.protocol.address in message  # ... and meter address
    assert "after 11 attempt(s)" in message  # the whole retry budget was spent


def test_fault_rates_are_validated() -> None:
    with pytest.raises(ConfigError, match="corrupt"):
        SerialFaults(corrupt=1.5)
    with pytest.raises(ConfigError, match="delay_ms"):
        SerialFaults(delay_ms=-1)


# -- the emulated meter forgets a half frame after a gap ------------------------------------
class WallClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _meter(wall: WallClock) -> EmulatedMeter:
    profile = load_profile()
    world = BenchWorld(profile, BenchClock.start(scale=1.0), noise=False)
    return EmulatedMeter(world, lab_master_key(), wall_clock=wall)


def _read_request(address: str, di: int) -> bytes:
    return encode_frame(Frame(address, 0x11, data_ids.di_to_bytes(di)))


def test_meter_drops_a_partial_frame_after_a_line_gap() -> None:
    wall = WallClock()
    meter = _meter(wall)
    request = _read_request(meter.meter_no, data_ids.REMAINING_AMOUNT)
    wedged = bytearray(request)
    wedged[4 + 9] = 0xC0  # line noise turned L=04 into 192: the parser waits for 204 bytes
    assert meter.on_serial_bytes(bytes(wedged)) == b""
    assert meter.on_serial_bytes(request) == b"", "within the gap it is still the same frame"
    wall.t += FRAME_GAP_S * 1.5
    reply = decode_frame(meter.on_serial_bytes(request))
    assert reply.data[:4] == data_ids.di_to_bytes(data_ids.REMAINING_AMOUNT)
    assert meter.partial_frames_discarded == 1


def test_meter_joins_a_frame_split_within_the_gap() -> None:
    wall = WallClock()
    meter = _meter(wall)
    request = _read_request(meter.meter_no, data_ids.REMAINING_AMOUNT)
    assert meter.on_serial_bytes(request[:9]) == b""
    wall.t += FRAME_GAP_S / 2
    assert decode_frame(meter.on_serial_bytes(request[9:])).is_reply
    assert meter.partial_frames_discarded == 0


# -- the client --------------------------------------------------------------------------
ADDR = "000000000001"


def test_late_reply_to_another_request_is_not_taken_as_the_answer() -> None:
    di_raw = data_ids.di_to_bytes(data_ids.REMAINING_AMOUNT)
    late = encode_frame(Frame(ADDR, 0x91, data_ids.di_to_bytes(data_ids.STATUS_WORD_3)
                              + b"\x50\x00"))
    right = encode_frame(Frame(ADDR, 0x91, di_raw + bytes.fromhex("56 34 12 00")))
    request = encode_frame(Frame(ADDR, 0x11, di_raw))
    client = Dlt645Client(ScriptedSerial([(request, late + right)]), ADDR,  # type: ignore[arg-type]
                          timeout=0.5, retries=0)
    assert client.read(data_ids.REMAINING_AMOUNT) == Decimal("1234.56")


def test_every_single_bit_error_in_a_reply_is_caught() -> None:
    genuine = Frame(ADDR, 0x91, data_ids.di_to_bytes(data_ids.REMAINING_AMOUNT)
                    + bytes.fromhex("56 34 12 00"))
    raw = encode_frame(genuine, preamble=0)
    for i in range(len(raw)):
        for bit in range(8):
            wire = bytearray(raw)
            wire[i] ^= 1 << bit
            assert FrameParser().feed(bytes(wire)) == [], (i, bit)


def test_a_compensating_double_error_passes_the_checksum_and_the_audit_counts_it() -> None:
    genuine = Frame(ADDR, 0x91, data_ids.di_to_bytes(data_ids.REMAINING_AMOUNT)
                    + bytes.fromhex("56 34 12 00"))
    raw = bytearray(encode_frame(genuine, preamble=0))
    data_at, cs_at = 14, len(raw) - 2  # first value byte, checksum
    raw[data_at] ^= 0x01  # 0x89 -> 0x88 (value 1234.56 -> 1234.55 on the wire: +33H offset)
    raw[cs_at] = (raw[cs_at] - 1) & 0xFF
    found = forgeries(encode_frame(genuine, preamble=0), bytes(raw))
    assert len(found.value_forged) == 1
    forged_value = data_ids.decode_value(data_ids.REMAINING_AMOUNT, found.value_forged[0].data[4:])
    assert forged_value == Decimal("1234.55")  # a wrong value no checksum could see


def test_checksum_escape_figures_are_consistent() -> None:
    figures = checksum_escapes(3000, SerialFaults(corrupt=0.05, seed=3))
    assert figures.corrupted > 0
    assert figures.value_accepted <= figures.value_forged <= figures.passed_checksum
    assert figures.passed_checksum < figures.corrupted / 20  # the checksum catches most


def test_agreed_takes_a_value_only_when_two_reads_match() -> None:
    reads = iter([Decimal("99.99"), Decimal("12.34"), Decimal("12.34")])
    assert agreed(lambda: next(reads), "energy") == Decimal("12.34")
    counter = iter(range(100))
    with pytest.raises(RigError, match="energy register: 5 reads never agreed"):
        agreed(lambda: next(counter), "energy register")


# -- the whole prepaid cycle under line faults ----------------------------------------------
@pytest.mark.bench
@pytest.mark.parametrize("faults", [
    SerialFaults(corrupt=0.01, seed=1),
    SerialFaults(drop=0.01, seed=2),
    SerialFaults(duplicate=0.01, seed=3),
    SerialFaults(delay_rate=0.2, delay_ms=150, seed=4),
], ids=["corrupt-1pct", "drop-1pct", "duplicate-1pct", "delay-150ms"])
def test_prepaid_cycle_completes_under_line_faults(faults: SerialFaults) -> None:
    case = run_serial_case(faults, retries=10, timeout_s=0.3)
    if case.error is not None:
        raise case.error
    assert case.verdict == "balanced"
    assert case.vended == Decimal("20.00")
    assert case.applied == case.vended  # nothing lost, nothing applied twice
    injected = case.counts.corrupted + case.counts.dropped + case.counts.duplicated + \
        case.counts.delayed_chunks
    assert injected > 0, "the line was never faulted: the case proves nothing"


def test_a_wait_is_not_ended_by_one_forged_poll() -> None:
    """A corrupted status that slipped past the checksum says "relay open" once: the wait
    for the cut-off goes on until two consecutive polls agree."""
    closed, opened = (MeterState(Decimal("5.00"), relay_open=flag, pre_trip_alarm=False)
                      for flag in (False, True))
    polls = iter([closed, opened, closed, closed, opened, opened])
    steps = BenchSteps.__new__(BenchSteps)  # only wait_for's own needs: a clock, now() and poll()
    steps.bench = SimpleNamespace(clock=SimpleNamespace(scale=1.0),  # type: ignore[assignment]
                                  now=lambda: datetime.now(UTC))
    steps.poll = lambda: next(polls)  # type: ignore[method-assign]
    assert steps.wait_for(lambda m: m.relay_open, "cut-off", poll_s=0) is opened
    assert next(polls, None) is None  # it took the sixth poll, not the second
