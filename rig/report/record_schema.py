"""The schema of record.json (version 1), as pydantic models.

One definition serves three uses: `python -m rig.report.record_schema` prints the JSON Schema
that docs/record.schema.json holds (a test keeps the two equal), a lab's importer can validate
a record with `TestRecord.model_validate_json`, and rig's tests validate every record it
writes. A change that breaks an importer raises SCHEMA_VERSION (rig.report.testrecord).
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


Scalar = str | int | float | bool | None


class EqualsLimit(_Closed):
    """The value must equal this (a number as an exact decimal string, or a text/bool)."""

    equals: Scalar


class RangeLimit(_Closed):
    """Inclusive bounds as exact decimal strings; null: unbounded on that side."""

    low: str | None
    high: str | None


class Measurement(_Closed):
    step: str = Field(description="the step (phase) it was taken in")
    name: str
    value: Scalar = Field(description="as measured; Decimals as exact strings")
    unit: str
    limit: EqualsLimit | RangeLimit | None = Field(
        description="the requirement (profile, tariff, standard); null: recorded, no limit")
    limits: str = Field(description="the limit as text, e.g. '>= 40000', '[2.30, 2.43]'")
    verdict: Literal["pass", "fail", "recorded"]
    passed: bool = Field(description="false only when a requirement is not met")
    basis: str = Field(description="where the requirement comes from, when stated")
    description: str


class Evidence(_Closed):
    name: str
    file: str = Field(description="path relative to record.json")
    mime: str


class Station(_Closed):
    id: str
    bench_kind: Literal["emulated", "real"]
    time_scale: str = Field(description="bench seconds per real second")


class Dut(_Closed):
    meter_model: str
    serial: str
    address: str = Field(description="the meter's communication address")
    firmware: str
    profile: str
    profile_sha256: str = Field(description="SHA-256 of the profile file that judged it")


class LoadIdentity(_Closed):
    idn: str = Field(description="the load's *IDN? reply")
    resource: str = Field(description="VISA resource string")


class ReaderIdentity(_Closed):
    name: str = Field(description="PC/SC reader name")
    atr: str = Field(description="ATR of the card it held, hex; empty if none was seen")


class MeterPort(_Closed):
    port: str
    baudrate: int
    parity: str
    bytesize: int
    stopbits: float
    protocol: str


class Instruments(_Closed):
    load: LoadIdentity
    card_reader: ReaderIdentity
    meter_port: MeterPort


class Billing(_Closed):
    kind: str = Field(description="sqlite | postgresql | served | none")
    url: str = Field(description="without user name, password or query")


class StepOutcome(_Closed):
    name: str
    outcome: Literal["pass", "fail", "error", "skipped", "running", "pending"]
    error: str


Outcome = Literal["pass", "fail", "error", "skipped"]


class Test(_Closed):
    id: str = Field(description="pytest node id, or 'NAME[PROFILE]' for rig run")
    profile: str
    requirement: str
    outcome: Outcome
    message: str
    started: AwareDatetime
    finished: AwareDatetime
    duration_s: float
    station: Station | None = None  # absent for a test skipped before its bench opened
    operator: str | None = None
    dut: Dut | None = None
    instruments: Instruments | None = None
    billing: Billing | None = None
    measurements: list[Measurement]
    steps: list[StepOutcome]
    evidence: list[Evidence]


class Software(_Closed):
    version: str
    git_revision: str | None = Field(description="null when not run from a git checkout")
    git_dirty: bool | None = Field(description="the checkout had uncommitted changes")


class Totals(_Closed):
    tests: int
    pass_: int = Field(alias="pass")
    fail: int
    error: int
    skipped: int


Cell = Literal["killed", "survived", "not applicable", "not run", "not run after kill"]


class MutantRow(_Closed):
    defect: str
    requirement: str = Field(description="the requirement whose scenario must kill it")
    what: str
    killed: bool
    error: str | None = Field(description="the run itself failed: nothing was judged")
    record: str = Field(description="that run's own record.json")
    cells: dict[str, Cell] = Field(description="scenario (requirement) -> verdict")
    messages: dict[str, str]
    wall_s: float | None = Field(default=None, description="the run's wall time")
    cpu_s: float | None = Field(default=None, description="its processes' CPU time "
                                "(user + system)")


class ReferenceRun(_Closed):
    outcomes: dict[str, Outcome]
    record: str
    error: str | None
    wall_s: float | None = None
    cpu_s: float | None = None


class KillMatrix(_Closed):
    """`rig run --suite mutants`: the suite against each mutant meter (rig.sim.defects)."""

    profile: str
    scenarios: list[str]
    reference: ReferenceRun
    scenarios_failing_on_reference: list[str]
    reference_recheck: ReferenceRun | None = Field(
        default=None, description="the scenarios that failed on the reference meter, run on "
        "it again alone; one that passes there is not counted as failing")
    mutants: list[MutantRow]
    killed: list[str]
    survived: list[str]
    mutation_score: float = Field(description="mutants killed by any scenario / mutants")
    own_requirement_missed: list[str]
    scenarios_killing_none: list[str]
    wall_s: float
    cpu_s: float | None = Field(default=None, description="CPU time of every run's processes "
                                "(user + system), beside the wall time")


class TestRecord(_Closed):
    """record.json: one run of rig (a prepaid cycle or a certification suite)."""

    schema_: Literal["rig-test-record"] = Field(alias="schema")
    schema_version: Literal[1]
    kind: str = Field(description="'certification' or the scenario's name")
    started: AwareDatetime
    finished: AwareDatetime
    duration_s: float
    rig: Software
    station: Station | None
    operator: str
    totals: Totals
    tests: list[Test]
    kill_matrix: KillMatrix | None = Field(
        default=None, description="only in the record of a mutant campaign (the reference "
        "meter's run): mutant x scenario, docs/certification.md 'Mutant meters'")


def json_schema() -> dict[str, object]:
    return TestRecord.model_json_schema(by_alias=True)


if __name__ == "__main__":
    print(json.dumps(json_schema(), indent=2))
