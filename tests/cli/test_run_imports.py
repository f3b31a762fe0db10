"""What a `rig run` process loads: only what the run uses (a check, not a timing).

Every module a run imports costs start-up time at the maximum time scale, where the fixed
overhead is most of the run (docs/throughput.md, "rig run"). These are the heavy ones a card
run on an emulated bench and a local billing database never calls: the served centre and its
API, the console, migrations (its new database is seeded from the migrated template), the
billing reports' charts, numpy (pyvisa would import it for binary blocks rig never reads),
and the test tools.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

UNUSED_BY_A_RUN = ("numpy", "matplotlib", "alembic", "fastapi", "starlette", "uvicorn", "httpx",
                   "hypothesis", "pytest", "allure", "rig.billing.remote", "rig.billing.api",
                   "rig.station.console", "rig.station.remote_vend", "rig.lab")
MARK = "RUN-PROCESS: "

_PROBE = f"""
import atexit, gc, json, sys
atexit.register(lambda: print({MARK!r} + json.dumps({{
    "loaded": sorted(m for m in {UNUSED_BY_A_RUN!r} if m in sys.modules),
    "collecting": gc.isenabled(), "frozen": gc.get_freeze_count()}}), file=sys.stderr))
from rig.cli.main import app
app(sys.argv[1:], prog_name="rig")
"""


def run_process(*args: str, cwd: Path) -> tuple[dict[str, object], str]:
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], cwd=cwd, capture_output=True,
                          text=True, timeout=180, stdin=subprocess.DEVNULL, check=False)
    lines = [line for line in done.stderr.splitlines() if MARK in line]  # after the live view
    assert done.returncode == 0 and lines, done.stdout + done.stderr
    return json.loads(lines[-1].split(MARK)[-1]), done.stdout


def test_a_run_loads_nothing_it_does_not_use_and_collects_during_the_cycle(
        tmp_path: Path) -> None:
    seen, out = run_process("run", "--time-scale", "72000", "--out", str(tmp_path),
                            cwd=tmp_path)
    assert seen["loaded"] == [], f"rig run imported {seen['loaded']}, which it never calls"
    assert "reconciliation" in out and "balanced" in out
    (run_dir,) = tmp_path.glob("prepaid-cycle-*")
    assert (run_dir / "report.html").is_file() and list(run_dir.glob("allure-results/*.json"))
    # Start-up's objects were frozen and the collector runs again for the cycle: a long run
    # on a real bench still frees its garbage.
    assert seen["collecting"] is True and int(seen["frozen"]) > 10_000  # type: ignore[call-overload]


def printed_by(*lines: str) -> list[str]:
    """What a new interpreter running `lines` prints, word by word."""
    done = subprocess.run([sys.executable, "-c", "\n".join(lines)], capture_output=True,
                          text=True, timeout=60, check=True)
    return done.stdout.split()


def test_the_load_driver_leaves_numpy_out_of_pyvisa_but_importable() -> None:
    assert printed_by("import sys, rig.load.driver, pyvisa.util",
                      "print('numpy' in sys.modules, pyvisa.util.np is None)",
                      "import numpy",
                      "print(numpy.zeros(2).tolist())") == ["False", "True", "[0.0,", "0.0]"]


def test_start_up_pauses_the_collector_and_the_run_resumes_it() -> None:
    assert printed_by("import gc",
                      "from rig.cli.run_gc import start_up",
                      "with start_up(): paused = gc.isenabled()",
                      "print(paused, gc.isenabled(), gc.get_freeze_count() > 0)",
                      "try:",
                      "    with start_up(): import no_such_module_here",
                      "except ImportError: print(gc.isenabled())  # a failed import: on",
                      "gc.disable()",
                      "with start_up(): pass",
                      "print(gc.isenabled())  # switched off by its owner: stays off",
                      ) == ["False", "True", "True", "True", "False"]
