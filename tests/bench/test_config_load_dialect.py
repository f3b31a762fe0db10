"""A bench file's load dialect must be one rig knows; the error names file, field and choices."""

from __future__ import annotations

from pathlib import Path

import pytest

from rig.bench.config import load_bench_config
from rig.errors import ConfigError
from rig.load import DIALECTS


def test_unknown_dialect_is_refused_naming_file_field_and_known_ones(tmp_path: Path) -> None:
    bench = tmp_path / "lab.toml"
    bench.write_text('[load]\nresource = "TCPIP0::10.0.0.5::5025::SOCKET"\n'
                     'dialect = "foo-bar"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_bench_config(bench)
    text = str(refused.value)
    assert text.startswith(f"{bench}: invalid bench config: load.dialect:")
    assert "unknown load dialect 'foo-bar'" in text
    assert all(name in text for name in DIALECTS)


@pytest.mark.parametrize("name", sorted(DIALECTS))
def test_every_known_dialect_is_accepted(tmp_path: Path, name: str) -> None:
    bench = tmp_path / "lab.toml"
    bench.write_text(f'[load]\ndialect = "{name}"\n', encoding="utf-8")
    assert load_bench_config(bench).load.dialect == name
