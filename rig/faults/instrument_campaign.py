"""Instrument faults during the prepaid cycle: the load drops the connection, answers an
error, or hangs, at the start of a phase that uses it.

Each case runs the whole cycle on an in-process emulated bench (so the load's real input
state can be seen from outside the rig) and records what the run said and what it left
behind: an InstrumentError naming the resource, the load input off, and the credit books.
A hung load cannot be switched off by any software: there the rig must say so in its log.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from rig.bench.config import BenchConfig
from rig.errors import InstrumentError
from rig.profile import DEFAULT_PROFILE, load_profile
from rig.report.record import Step
from rig.scenarios.prepaid_cycle import PHASES, CycleParams
from rig.scenarios.runner import run_prepaid_cycle
from rig.sim.emulated_bench import EmulatedBench
from rig.sim.scpi_server import Fault, ScpiServer

# (phase, fault) pairs where the load is in use: from load-on to load-off.
CASES: list[tuple[str, Fault]] = [
    (PHASES[5], Fault.DROP), (PHASES[6], Fault.DROP), (PHASES[7], Fault.DROP),
    (PHASES[5], Fault.ERROR), (PHASES[8], Fault.ERROR),
    (PHASES[5], Fault.SILENT), (PHASES[6], Fault.SILENT),
]


class _Injector:
    """An observer of the run that arms the fault when its phase starts."""

    def __init__(self, server: ScpiServer, phase: str, fault: Fault) -> None:
        self.server, self.phase, self.fault = server, phase, fault

    def step_started(self, step: Step) -> None:
        if step.name == self.phase:
            self.server.inject_fault(self.fault, code=-310, message="System error")

    def step_finished(self, step: Step) -> None:
        pass

    def reading(self, values: dict[str, str]) -> None:
        pass


class _Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@dataclass
class InstrumentCase:
    phase: str
    fault: Fault
    error: BaseException | None = None
    resource: str = ""
    load_left_on: bool = False
    warnings: list[str] = field(default_factory=list)
    vended: Decimal = Decimal(0)
    applied: Decimal = Decimal(0)

    @property
    def clear_error(self) -> bool:
        """An InstrumentError that names the instrument (its VISA resource)."""
        return isinstance(self.error, InstrumentError) and self.resource in str(self.error)

    @property
    def left_on_unreported(self) -> bool:
        """The load was left drawing power and nothing in the log says so."""
        return self.load_left_on and not any("input off" in w for w in self.warnings)

    @property
    def credit_lost(self) -> Decimal:
        return max(self.vended - self.applied, Decimal(0))

    @property
    def credit_duplicated(self) -> Decimal:
        return max(self.applied - self.vended, Decimal(0))


def run_instrument_case(phase: str, fault: Fault, *, profile_name: str = DEFAULT_PROFILE,
                        time_scale: float = 36000.0) -> InstrumentCase:
    profile = load_profile(profile_name)
    case = InstrumentCase(phase, fault)
    handler = _Warnings()
    logging.getLogger("rig").addHandler(handler)
    try:
        with EmulatedBench(profile, time_scale=time_scale) as sim, \
                tempfile.TemporaryDirectory(prefix="rig-instrument-faults-") as tmp:
            assert sim.parts is not None
            server: ScpiServer = sim._scpi  # the emulated instrument's fault switch
            case.resource = sim.parts.load_resource
            config = BenchConfig(profile=profile.name, time_scale=time_scale,
                                 sim_control=sim.parts.control)
            run = run_prepaid_cycle(config, params=CycleParams(amount=Decimal("20.00")),
                                    run_dir=Path(tmp), observer=_Injector(server, phase, fault))
            case.error = run.error
            case.load_left_on = sim.world.load.input_on
            case.vended = run.result.credit_bought
            server.clear_fault()
            sim.move_card("meter")  # the customer's next insertion settles a pending vend
            case.applied = sim.world.engine.cumulative_purchase
    finally:
        logging.getLogger("rig").removeHandler(handler)
    case.warnings = handler.messages
    return case
