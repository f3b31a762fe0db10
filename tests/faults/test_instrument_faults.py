"""Instrument faults in the middle of the prepaid cycle: the run ends with an error naming the
load's resource, the load input is off (or, for a hung load no software can reach, the log
says it could not be switched off), and the credit already applied stays applied once."""

from __future__ import annotations

import pytest

from rig.faults.instrument_campaign import CASES, run_instrument_case
from rig.scenarios.prepaid_cycle import PHASES
from rig.sim.scpi_server import Fault

# A hung load costs several VISA timeouts per case: the suite keeps the one where the load is
# drawing power; bench/faults.py runs every case.
SUITE = [c for c in CASES if c != (PHASES[5], Fault.SILENT)]


@pytest.mark.bench
@pytest.mark.parametrize(("phase", "fault"), SUITE,
                         ids=[f"{f.value}@{p.split(':')[0]}" for p, f in SUITE])
def test_load_fault_mid_cycle_ends_clear_and_safe(phase: str, fault: Fault) -> None:
    case = run_instrument_case(phase, fault)
    assert case.clear_error, f"unclear error: {case.error!r}"
    if fault is Fault.SILENT:  # hung firmware: nothing reaches it, and the log says so
        assert case.load_left_on  # it was drawing power when it hung
        assert any(case.resource in w and "could not switch the load input off" in w
                   for w in case.warnings)
    else:
        assert not case.load_left_on, f"load left on after {fault.value} at {phase!r}"
    assert not case.left_on_unreported
    assert case.applied == case.vended  # the load's fault touches no credit
