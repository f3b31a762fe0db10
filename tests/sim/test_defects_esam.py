"""Mutant ESAM meters (rig.sim.defects.esam_meter): defects only a meter with an ESAM and a CPU card
slot can carry, each killed by the scenario of its own requirement on the CPU-card profile.

The kill runs are real certification runs (pytest in a subprocess, emulated benches on
pcscd/vpcd and ptys); the default suite runs two of them (an ESAM part and the card reader),
``-m mutant_campaign`` all of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from rig.profile import available_profiles, load_profile
from rig.sim.defects import DEFECTS, applicable
from rig.sim.defects.esam_meter import DEFECTS as ESAM_DEFECTS
from rig.sim.emulated_bench import EmulatedBench
from rig.suites.mutants import KILLED, NOT_RUN, run_campaign

ESAM_MUTANTS = [d.name for d in ESAM_DEFECTS]
PROFILE = "dlt645-1p-cpu-card"
SAMPLE = ("esam-key-state-not-checked", "esam-key-update-unchecked")


def test_the_esam_mutants_are_in_the_catalogue_for_esam_cpu_meters_only() -> None:
    assert len(ESAM_MUTANTS) >= 5
    assert set(ESAM_MUTANTS) <= set(DEFECTS)
    for name in available_profiles():
        p = load_profile(name)
        mine = {d.name for d in applicable(p)} & set(ESAM_MUTANTS)
        assert mine == (set(ESAM_MUTANTS) if p.card.format == "esam-cpu" else set()), name


def test_each_esam_mutant_installs_on_the_cpu_card_meter() -> None:
    p = load_profile(PROFILE)
    reference = EmulatedBench(p).meter
    for name in ESAM_MUTANTS:
        meter = EmulatedBench(p, defect=name).meter
        broken = (type(meter.esam), type(meter.terminal))
        assert broken != (type(reference.esam), type(reference.terminal)), name


def _killed_by_their_own_scenarios(names: tuple[str, ...], tmp_path: Path) -> None:
    matrix = run_campaign(load_profile(PROFILE), tmp_path, jobs=2, own_only=True,
                          defects=[DEFECTS[n] for n in names])
    assert matrix.reference.error == "" and matrix.broken == []
    for m in matrix.mutants:
        assert m.error == "", m.error
        assert m.cell(m.requirement) == KILLED, (m.defect, m.outcomes)
        assert {m.cell(r) for r in set(matrix.scenarios) - {m.requirement}} <= {NOT_RUN}
    assert matrix.score == 1.0


@pytest.mark.bench
def test_esam_mutant_sample_is_killed_by_its_own_scenarios(tmp_path: Path) -> None:
    _killed_by_their_own_scenarios(SAMPLE, tmp_path)


@pytest.mark.mutant_campaign
def test_every_esam_mutant_is_killed_by_its_own_scenario(tmp_path: Path) -> None:
    _killed_by_their_own_scenarios(tuple(ESAM_MUTANTS), tmp_path)
