"""Fuzzing the config decoders: any file yields a config or a ConfigError, nothing else."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from rig.bench.config import load_bench_config
from rig.errors import ConfigError
from rig.profile import load_profile_file, profile_files


def toml_value(depth: int = 2) -> st.SearchStrategy[object]:
    leaf = st.one_of(st.booleans(), st.integers(-10**6, 10**6),
                     st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20))
    if depth == 0:
        return leaf
    return st.one_of(leaf, st.lists(leaf, max_size=3),
                     st.dictionaries(st.text(min_size=1, max_size=12), toml_value(depth - 1),
                                     max_size=4))


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.encode("unicode_escape").decode().replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f'"{k}" = {_toml(v)}' for k, v in value.items()) + "}"
    raise TypeError(value)


def _write(text: str | bytes) -> Path:
    with tempfile.NamedTemporaryFile("wb", suffix=".toml", delete=False) as handle:
        handle.write(text.encode() if isinstance(text, str) else text)
    return Path(handle.name)


KNOWN_BENCH_KEYS = ["kind", "station_id", "profile", "time_scale", "dut", "meter", "card",
                    "load", "billing", "sim_control"]


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(KNOWN_BENCH_KEYS) | st.text(min_size=1, max_size=8),
                       toml_value(), max_size=6))
def test_bench_config_decoder_never_crashes(doc: dict[str, object]) -> None:
    path = _write("\n".join(f'"{k}" = {_toml(v)}' for k, v in doc.items()))
    try:
        load_bench_config(path)
    except ConfigError as e:
        assert str(path) in str(e)
    finally:
        path.unlink()


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_bench_config_arbitrary_bytes(raw: bytes) -> None:
    path = _write(raw)
    try:
        load_bench_config(path)
    except ConfigError:
        pass
    finally:
        path.unlink()


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_profile_decoder_never_crashes_on_mutated_profiles(data: st.DataObject) -> None:
    """Take a valid profile, change one line's value to anything: value or ConfigError."""
    source = [file for _, file in sorted(profile_files().items())]
    text = data.draw(st.sampled_from(source)).read_text()
    lines = text.splitlines()
    candidates = [i for i, line in enumerate(lines) if "=" in line and not line.startswith("#")]
    index = data.draw(st.sampled_from(candidates))
    key = lines[index].split("=", 1)[0]
    lines[index] = f"{key}= {_toml(data.draw(toml_value(1)))}"
    path = _write("\n".join(lines))
    try:
        load_profile_file(path)
    except ConfigError as e:
        assert str(path) in str(e)
    finally:
        path.unlink()
