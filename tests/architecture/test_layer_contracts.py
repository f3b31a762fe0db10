"""The layer rules of docs/architecture.md, as the import-linter contracts in pyproject.toml
that `.ci/run` checks: they hold for rig as it is, and one forbidden import — a billing module
importing card code, the emulator importing billing, a driver importing the bench, the bench
importing the station, a new cycle between two areas — makes `lint-imports` fail naming the
broken contract and the import. Each bad import is added to a copy of rig, never the checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = str(Path(sys.executable).with_name("lint-imports"))


def lint(where: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports on the rig package found first from ``where`` (its own copy)."""
    return subprocess.run([LINT, "--no-cache"], cwd=where, capture_output=True, text=True,
                          check=False, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(where), "COLUMNS": "200"})


def test_rig_keeps_its_layer_contracts() -> None:
    run = lint(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


@pytest.mark.parametrize(("module", "line", "contract", "named"), [
    ("rig/billing/_forbidden.py", "from rig.card import keys",
     "The billing centre imports no hardware, bench or station",
     "rig.billing._forbidden -> rig.card.keys"),
    ("rig/billing/_forbidden.py", "from rig.station import loadgen",
     "The billing centre imports no hardware, bench or station",
     "rig.billing._forbidden -> rig.station.loadgen"),
    ("rig/sim/_forbidden.py", "import rig.billing.money",
     "The emulated bench imports no billing", "rig.sim._forbidden -> rig.billing.money"),
    ("rig/meter/_forbidden.py", "from rig.bench import config",
     "Hardware drivers (card, meter, load) import nothing above them",
     "rig.meter._forbidden -> rig.bench.config"),
    ("rig/card/_forbidden.py", "from rig.load import driver",
     "The hardware drivers do not know each other", "rig.card._forbidden -> rig.load.driver"),
    ("rig/bench/_forbidden.py", "from rig.station import vending_station",
     "The station sits above billing and bench: nothing below it imports it",
     "rig.bench._forbidden -> rig.station.vending_station"),
    ("rig/card_formats/_forbidden.py", "from rig.sim import prepaid",
     "Card formats sit below the emulator, station, bench and billing",
     "rig.card_formats._forbidden -> rig.sim.prepaid"),
    ("rig/esam/_forbidden.py", "from rig.card import keys",
     "The ESAM sits below the card formats, meter and station",
     "rig.esam._forbidden -> rig.card.keys"),
    ("rig/station/_forbidden.py", "from rig.card_formats.rigpp import station",
     "Card formats are reached through their interface and registry only",
     "rig.station._forbidden -> rig.card_formats.rigpp.station"),
    ("rig/scenarios/_forbidden.py", "from rig.card_formats.sle4442 import layout",
     "Card formats are reached through their interface and registry only",
     "rig.scenarios._forbidden -> rig.card_formats.sle4442.layout"),
    ("rig/scenarios/_forbidden.py", "from rig.card import records",
     "Scenarios speak format-neutral card values",
     "rig.scenarios._forbidden -> rig.card.records"),
    ("rig/tomlconfig.py", "import rig.profile",
     "No import cycles between the areas of rig", ".tomlconfig -> .profile"),
    # the three cycles older than the contract, now broken, would each fail it again
    ("rig/meter/client.py", "from rig.profile import MeterProfile",
     "No import cycles between the areas of rig", ".meter -> .profile"),
    ("rig/bench/serial_proxy.py", "from rig.faults import serial_audit",
     "No import cycles between the areas of rig", ".bench -> .faults"),
    ("rig/report/record.py", "from rig.scenarios import expect",
     "No import cycles between the areas of rig", ".report -> .scenarios"),
])
def test_one_forbidden_import_breaks_its_contract(tmp_path: Path, module: str, line: str,
                                                  contract: str, named: str) -> None:
    shutil.copytree(ROOT / "rig", tmp_path / "rig",
                    ignore=shutil.ignore_patterns("__pycache__", "data"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    bad = tmp_path / module
    bad.write_text((bad.read_text() if bad.exists() else "") + f"\n{line}  # noqa\n")
    run = lint(tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"{contract} BROKEN" in run.stdout, run.stdout
    assert named in run.stdout.split("Broken contracts", 1)[1]  # the import is named
