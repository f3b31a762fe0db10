"""Fixtures of the fault tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rig.profile import load_profile
from rig.scenarios.prepaid_cycle import CycleParams
from rig.sim.emulated_bench import EmulatedBench

# `rig run` in another process, attached to a bench and signalled once its load is on: the
# cycle gives up on alarm 1 after CycleParams.max_bench_hours of consumption, 2 real seconds
# at 360000x, which a loaded machine can spend between seeing the load on and delivering the
# signal (the run then ended on its own, "alarm 1 not reached", exit 2 instead of 130). The
# attached bench's scale leaves that phase this many real seconds instead.
ATTACHED_PHASE_S = 200.0


@pytest.fixture
def attached_sim() -> Iterator[EmulatedBench]:
    """A bench for a `rig run` process to attach to and be signalled mid-consumption."""
    scale = CycleParams().max_bench_hours * 3600 / ATTACHED_PHASE_S
    with EmulatedBench(load_profile(), time_scale=scale) as bench:
        yield bench
