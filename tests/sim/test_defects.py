"""Mutant meters (rig.sim.defects) and the kill matrix (rig.suites.mutants).

The catalogue covers every certified requirement; a defect installs only where the model has
what it breaks; a bench config names a defect or fails in one line. The fixed sample runs real
certification runs (pytest in a forked child of a warm worker, emulated benches on pcscd/vpcd,
ptys, TCP) against at least one mutant of every family of defects (rig.suites.mutant_sample):
it fails when a scenario is weakened so that its own mutant survives, and when a scenario
stops passing on the reference meter.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from rig.bench.config import BenchConfig
from rig.errors import ConfigError
from rig.profile import available_profiles, load_profile
from rig.report import record_schema
from rig.sim.defects import DEFECTS, applicable
from rig.sim.emulated_bench import EmulatedBench
from rig.sim.prepaid import PrepaidEngine
from rig.suites.mutant_sample import SAMPLE, catalogue_families, sample_families, sample_for
from rig.suites.mutants import KILLED, NOT_RUN, run_campaign

# The certification suite's requirements, as its record names them (read from its source: the
# module is collected by the suite's own conftest, not imported here).
_SUITE = Path(importlib.util.find_spec("rig.suites.certification").origin).parent  # type: ignore
CERTIFIED = {name.replace("_", " ") for name in re.findall(
    r"^def test_(\w+)\(", (_SUITE / "test_certification.py").read_text("utf-8"), re.M)}

# Certified requirements no meter defect is catalogued for yet, each with why: a new requirement
# must get a mutant or a line here, or this test fails.
WITHOUT_MUTANTS: dict[str, str] = {}


def test_catalogue_covers_every_certified_requirement() -> None:
    assert len(DEFECTS) >= 30
    covered = {d.requirement for d in DEFECTS.values()}
    assert covered == CERTIFIED - set(WITHOUT_MUTANTS)
    assert set(WITHOUT_MUTANTS) <= CERTIFIED  # no stale entry


@pytest.mark.parametrize("profile", available_profiles())
def test_every_applicable_defect_installs(profile: str) -> None:
    p = load_profile(profile)
    for d in applicable(p):
        EmulatedBench(p, defect=d.name)  # swaps one part's class; nothing starts
    assert len(applicable(p)) >= 30


def test_printer_defect_breaks_the_benchs_printer_not_the_meter() -> None:
    p = load_profile("dlt645-1p-money")
    reference, mutant = EmulatedBench(p), EmulatedBench(p, defect="printer-paper-end-not-reported")
    assert type(mutant.meter) is type(reference.meter)
    for bench in (reference, mutant):
        bench.printer.set_state(paper_out=True)
    assert reference.printer.status_byte(4) & 0x60  # the roll's end is reported...
    assert not mutant.printer.status_byte(4) & 0x60  # ...not by the mutant's sensor
    assert mutant.printer.state.paper_out  # whose roll is still out


def test_defect_that_does_not_apply_is_refused_by_name() -> None:
    p = load_profile("dlt645-1p-money")  # no power limit
    with pytest.raises(ConfigError, match=r"power-limit-low.*does not apply.*dlt645-1p-money"):
        EmulatedBench(p, defect="power-limit-low")


def test_unknown_defect_in_bench_config_names_field_and_choices() -> None:
    with pytest.raises(ValidationError, match=r"defect: unknown meter defect .nope.*cutoff-late"):
        BenchConfig(defect="nope")
    with pytest.raises(ValidationError, match="only an emulated meter"):
        BenchConfig(kind="real", time_scale=1, defect="cutoff-late", meter={"port": "/dev/x"},
                    card={"reader": "r", "courier": "prompt"},
                    load={"resource": "TCPIP::h::5025::SOCKET"})


def _cutoff_credit(engine: PrepaidEngine) -> Decimal:
    """Credit at which the relay opens with 2 kW drawn from 5 units of credit."""
    start = datetime(2026, 3, 4, 8, 0)
    engine.credit = Decimal(5)
    engine.relay_closed = True
    while engine.relay_closed:
        engine.advance(60.0, Decimal(2000), start)
    return engine.credit


def test_cutoff_defects_move_the_cut_off_but_not_the_levels_shown() -> None:
    p = load_profile("dlt645-1p-money")
    reference = EmulatedBench(p).meter.engine
    early = EmulatedBench(p, defect="cutoff-early").meter.engine
    late = EmulatedBench(p, defect="cutoff-late").meter.engine
    assert _cutoff_credit(reference) == 0
    assert _cutoff_credit(early) == p.thresholds.alarm2 / 10
    assert _cutoff_credit(late) == -p.thresholds.alarm2 / 10
    assert early.profile.thresholds == reference.profile.thresholds  # registers show the same


def test_ci_sample_holds_a_mutant_of_every_family() -> None:
    """Every defect falls in a family, and the CI sample stands for each family at least once
    with a mutant on a profile it applies to."""
    assert not [f for f in catalogue_families() if f.startswith("(no family")], \
        "a defect no family rule places: give it one in rig/suites/mutant_sample.py"
    assert set(sample_families()) == catalogue_families()
    for profile, name in SAMPLE:
        assert DEFECTS[name].applies(load_profile(profile)), (profile, name)


@pytest.mark.bench
@pytest.mark.parametrize("profile", sorted({p for p, _ in SAMPLE}))
def test_ci_sample_is_killed_by_the_scenario_of_its_own_requirement(profile: str,
                                                                     tmp_path: Path) -> None:
    """The fixed sample (rig.suites.mutant_sample): each mutant runs only the scenario that
    certifies its requirement, and that scenario must fail on it and pass on the reference
    meter; no other scenario is credited with the kill."""
    sample = sample_for(profile)
    matrix = run_campaign(load_profile(profile), tmp_path, jobs=2, own_only=True,
                          defects=sample)
    assert matrix.reference.error == ""
    assert matrix.broken == []
    assert set(matrix.reference.outcomes) == {d.requirement for d in sample}
    for m in matrix.mutants:
        assert m.error == "", m.error
        assert m.cell(m.requirement) == KILLED, (m.defect, m.requirement, m.outcomes,
                                                 m.messages)
        assert {m.cell(r) for r in set(matrix.scenarios) - {m.requirement}} <= {NOT_RUN}
    assert matrix.killed == [d.name for d in sample]
    assert (tmp_path / "kill-matrix.json").is_file()
    raw = (tmp_path / "record.json").read_text("utf-8")
    record = record_schema.TestRecord.model_validate_json(raw)
    assert record.kill_matrix is not None
    assert record.kill_matrix.killed == [d.name for d in sample]


@pytest.mark.bench
def test_memory_card_mutant_is_killed_by_its_own_scenario(tmp_path: Path) -> None:
    """The SLE 4442 meter's reader has its own mutants (a memory card's defences are not
    RIGPP's): one of them, killed on the memory-card profile."""
    name = "sle4442-replay-applied-again"
    matrix = run_campaign(load_profile("dlt645-1p-memory-card"), tmp_path, jobs=1,
                          own_only=True, defects=[DEFECTS[name]])
    assert matrix.reference.error == "" and matrix.broken == []
    (m,) = matrix.mutants
    assert m.error == "" and m.cell(m.requirement) == KILLED, (m.defect, m.outcomes)


@pytest.mark.mutant_campaign
@pytest.mark.parametrize("profile", available_profiles())
def test_whole_campaign_kills_every_mutant(profile: str, tmp_path: Path) -> None:
    matrix = run_campaign(load_profile(profile), tmp_path, jobs=2)
    assert matrix.broken == []
    assert matrix.survived == []
    assert matrix.killing_none() == []


@pytest.mark.parametrize(("args", "says"), [
    (["sim", "--defect", "nope"], "error: unknown meter defect 'nope' (known: alarm1-early"),
    (["sim", "--defect", "power-limit-low"], "error: meter defect 'power-limit-low' does not "
                                             "apply to profile 'dlt645-1p-money'"),
    (["run", "--suite", "mutants", "--bench", "lab.toml"], "error: --suite mutants runs on "
                                                           "emulated benches"),
    (["run", "--suite", "mutants", "--profile", "dlt645-1p-money", "--select", "nope-*"],
     "error: --select 'nope-*': no mutant of dlt645-1p-money has a name it matches"),
])
def test_cli_refuses_a_defect_in_one_line(args: list[str], says: str, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "rig.cli.main", *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    assert done.returncode != 0
    assert says in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_a_requirement_recorded_not_applicable_is_not_a_survival() -> None:
    """A memory-card meter records the forged-purchase check as not applicable (its format
    cannot resist it): in the kill matrix that is 'not applicable', never 'survived'."""
    from rig.suites.mutants import _recorded_not_applicable

    na = {"outcome": "pass", "measurements": [
        {"name": "card accepted", "value": True},
        {"name": "forged purchase", "value": "not applicable: card format 'sle4442': no MAC"}]}
    assert _recorded_not_applicable(na)
    assert not _recorded_not_applicable({**na, "outcome": "fail"})  # a kill stays a kill
    assert not _recorded_not_applicable({"outcome": "pass", "measurements": [
        {"name": "card accepted", "value": True}]})


def test_an_interrupted_run_is_not_a_kill(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C stops a run mid-test: pytest records the test as failed and exits 2. That judged
    nothing about the meter: an error, never a kill, and not run a second time."""
    from rig.suites import mutants

    calls: list[list[str]] = []

    def interrupted(args: list[str], out: Path, log: Path, worker: object) -> tuple[int, float]:
        calls.append(args)
        (out / "record.json").write_text(
            '{"tests": [{"requirement": "cutoff and reconnection", "outcome": "fail"}]}')
        log.write_text("KeyboardInterrupt\n")
        return mutants.INTERRUPTED, 0.1

    monkeypatch.setattr(mutants, "_pytest", interrupted)
    run = mutants.run_certification(load_profile("dlt645-1p-money"), DEFECTS["cutoff-late"],
                                    tmp_path, stop_at_kill=True)
    assert "interrupted" in run.error
    assert not run.killed
    assert len(calls) == 1


def test_a_scenario_failing_on_the_reference_judges_only_if_it_passes_alone() -> None:
    """The reference meter shares the pool with the mutants; a scenario that failed there is
    run on it again alone. Passing there, it judges the mutants; failing again, it is listed
    as failing on the reference and its kills count for nothing."""
    from rig.suites.mutants import KillMatrix, MutantRun

    timing, other = "alarms at predicted times", "buy and insert"
    reference = MutantRun("reference", "", "", outcomes={timing: "fail", other: "pass"})
    mutant = MutantRun("alarm2-late", timing, "", outcomes={timing: "fail"})
    passed = MutantRun("reference", "", "", outcomes={timing: "pass"})
    failed = MutantRun("reference", "", "", outcomes={timing: "fail"})
    assert KillMatrix("p", reference, [mutant]).broken == [timing]  # no recheck ran
    assert KillMatrix("p", reference, [mutant], recheck=passed).broken == []
    assert KillMatrix("p", reference, [mutant], recheck=failed).broken == [timing]
    data = KillMatrix("p", reference, [mutant], recheck=passed).to_dict()
    assert data["reference_recheck"]["outcomes"] == {timing: "pass"}
    assert data["scenarios_failing_on_reference"] == []
