"""`pytest --lg-place PLACE`: the session's bench is a lab place, held for the whole session.

The place is reserved and acquired when pytest configures (before collection, so the suite
sees the place's meter profile), its bench file replaces --bench, and it is made safe and
released when pytest ends, by any path. One place is one bench: with pytest-xdist, run one
job per place instead.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from pathlib import Path

import pytest

from rig.bench.config import BenchConfig, load_bench_config
from rig.errors import RigError


def _say(message: str) -> None:
    sys.stderr.write(f"lab {message}\n")
    sys.stderr.flush()


def hold_place(config: pytest.Config) -> None:
    """Hold --lg-place for the session and point --bench at its bench file."""
    from rig.lab.bench_file import write_bench_file
    from rig.lab.job import placed_bench

    spec = str(config.getoption("--lg-place"))
    if hasattr(config, "workerinput") or (config.getoption("numprocesses", None) or 0):
        raise pytest.UsageError("rig: --lg-place holds one bench; run one pytest job per "
                                "place instead of pytest-xdist workers")
    bench = config.getoption("--bench")
    stack = contextlib.ExitStack()
    try:
        base = load_bench_config(Path(bench)) if bench else BenchConfig(time_scale=36000.0)
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rig-place-")))
        placed = stack.enter_context(placed_bench(
            spec, base, coordinator=config.getoption("lg_coordinator", None), say=_say))
    except RigError as e:
        stack.close()
        raise pytest.UsageError(f"rig: --lg-place {spec}: {e}") from None
    config.add_cleanup(stack.close)
    config.option.bench = str(write_bench_file(placed.config, tmp / f"{placed.place}.toml"))
