"""A bench config written back as a bench TOML file, for a run or a suite on a lab place.

`rig run --place` and `pytest --lg-place` build the place's bench config in memory; the run
and the certification suite read a bench file, so the config goes through one (a temporary
file the job deletes). Only what the config holds: strings, numbers, booleans, paths,
timestamps and nested tables; unset values are left out.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from rig.bench.config import BenchConfig


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return json.dumps(str(value))  # a JSON string is a TOML basic string


def _table(prefix: str, data: dict[str, Any], out: list[str]) -> None:
    tables = {k: v for k, v in data.items() if isinstance(v, dict)}
    for key, value in data.items():
        if value is not None and key not in tables:
            out.append(f"{key} = {toml_value(value)}")
    for key, value in tables.items():
        name = f"{prefix}.{key}" if prefix else key
        out.append(f"\n[{name}]")
        _table(name, value, out)


def write_bench_file(config: BenchConfig, path: Path) -> Path:
    """Write `config` to `path` so that `load_bench_config(path)` gives it back."""
    lines: list[str] = ["# written by rig for a lab place; the job deletes it"]
    _table("", config.model_dump(mode="python"), lines)
    path.write_text("\n".join(lines) + "\n")
    return path
