"""The prepaid cycle under serial-line faults, with the credit books checked afterwards.

One case = a fresh emulated bench (in this process, so the meter's engine can be inspected),
the fault proxy between rig and meter with the given rates, one full prepaid cycle, then a
settling insertion of the card without faults (what the customer does next anyway). The
case then compares the credit the billing centre sold with what the meter applied: any
difference is credit lost or applied twice. Shared by tests/faults and bench/faults.py.
"""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from rig.bench.bench import open_bench
from rig.bench.config import BenchConfig, MeterPort, SerialFaultRates
from rig.bench.serial_proxy import FaultCounts, SerialFaultProxy, SerialFaults
from rig.billing.centre.opening import open_billing
from rig.faults.serial_audit import forgeries
from rig.meter.protocols import Wire
from rig.profile import DEFAULT_PROFILE, load_profile
from rig.report.record import RunRecord
from rig.scenarios.prepaid_cycle import PHASES, CycleParams, PrepaidCycle
from rig.sim.emulated_bench import EmulatedBench


@dataclass
class SerialCase:
    """What one prepaid cycle under serial faults did to the line and to the money."""

    faults: SerialFaults
    verdict: str = ""
    error: BaseException | None = None
    vended: Decimal = Decimal(0)
    applied: Decimal = Decimal(0)
    counts: FaultCounts = field(default_factory=FaultCounts)
    audited: bool = False  # forged frames are counted for DL/T 645 lines only
    forged_to_meter: int = 0  # corrupted requests that passed the checksum
    forged_to_rig: int = 0  # corrupted replies that passed the checksum
    value_forged_to_rig: int = 0  # ... of which only the value differed
    partial_frames_discarded: int = 0  # the meter's parser reset after a gap

    @property
    def completed(self) -> bool:
        return self.error is None and self.verdict == "balanced"

    @property
    def lost(self) -> Decimal:
        return max(self.vended - self.applied, Decimal(0))

    @property
    def duplicated(self) -> Decimal:
        return max(self.applied - self.vended, Decimal(0))


def run_serial_case(
    faults: SerialFaults,
    *,
    retries: int = 10,
    timeout_s: float = 0.3,
    params: CycleParams | None = None,
    profile_name: str = DEFAULT_PROFILE,
    time_scale: float = 36000.0,
) -> SerialCase:
    """Run one prepaid cycle through a fault proxy with `faults`; never raises a run error."""
    profile = load_profile(profile_name)
    case = SerialCase(faults)
    rates = SerialFaultRates(**dataclasses.asdict(faults))
    with EmulatedBench(profile, time_scale=time_scale) as sim, \
            tempfile.TemporaryDirectory(prefix="rig-serial-faults-") as tmp:
        assert sim.parts is not None
        config = BenchConfig(
            profile=profile.name, time_scale=time_scale, sim_control=sim.parts.control,
            meter=MeterPort(faults=rates, retries=retries, timeout_s=timeout_s))
        record = RunRecord("prepaid cycle under serial faults", identity={}, phases=PHASES)
        cycle: PrepaidCycle | None = None
        try:
            with open_bench(config, profile=profile) as bench:
                proxy = bench.serial_faults
                assert proxy is not None
                proxy.record = True  # before the first byte: the rig has not spoken yet
                url = f"sqlite:///{Path(tmp) / 'billing.sqlite'}"
                with open_billing(url, clock=bench.clock.now) as billing:
                    cycle = PrepaidCycle(bench, billing, record, params)
                    try:
                        cycle.run()
                    finally:
                        case.counts = proxy.counts
                        if profile.protocol.spec.wire is Wire.DLT645:  # frames to audit
                            _audit(case, proxy)
        except Exception as e:  # the figure counts it; KeyboardInterrupt still stops us
            case.error = e
        record.close()
        if cycle is not None:
            case.verdict = cycle.result.verdict
            case.vended = cycle.result.credit_bought
        sim.move_card("meter")  # the customer inserts the card again: settles a pending vend
        case.applied = sim.world.engine.cumulative_purchase
        case.partial_frames_discarded = sim.meter.partial_frames_discarded
    return case


def _audit(case: SerialCase, proxy: SerialFaultProxy) -> None:
    case.audited = True
    to_meter = forgeries(bytes(proxy.sent["to_meter"]), bytes(proxy.delivered["to_meter"]))
    to_rig = forgeries(bytes(proxy.sent["to_rig"]), bytes(proxy.delivered["to_rig"]))
    case.forged_to_meter = len(to_meter.forged)
    case.forged_to_rig = len(to_rig.forged)
    case.value_forged_to_rig = len(to_rig.value_forged)
