"""Mistakes a person makes writing a profile: each is reported once, for what it is."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rig.errors import ConfigError
from rig.profile import load_profile_file, profile_files

BASE = profile_files()["dlt645-1p-money"].read_text(encoding="utf-8")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "broken.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_alarm2_above_alarm1_is_the_only_complaint(tmp_path: Path) -> None:
    """A broken [thresholds] used to add a false "'overdraft' is declared but … lacks
    thresholds.overdraft_limit" beside the real problem."""
    text = BASE.replace('alarm2 = "5.00"', 'alarm2 = "15.00"', 1)
    text = text.replace('capabilities = ["dlt645", "money",',
                        'capabilities = ["dlt645", "money", "overdraft",', 1)
    text = text.replace('overdraft_limit = "0"', 'overdraft_limit = "2.00"', 1)
    assert '"overdraft"' in text
    with pytest.raises(ConfigError) as err:
        load_profile_file(_write(tmp_path, text))
    message = str(err.value)
    assert "alarm2 must not exceed alarm1" in message
    assert "is declared but" not in message


def test_declared_capability_without_its_section_still_refused(tmp_path: Path) -> None:
    text = BASE.replace('capabilities = ["dlt645", "money",',
                        'capabilities = ["dlt645", "money", "overdraft",', 1)
    with pytest.raises(ConfigError, match=r"capabilities: 'overdraft' is declared but the "
                                          r"profile lacks thresholds\.overdraft_limit"):
        load_profile_file(_write(tmp_path, text))


@pytest.mark.parametrize("field", ["alarm1", "hoarding_limit"])
def test_an_unquoted_float_amount_is_refused(tmp_path: Path, field: str) -> None:
    """docs/meter-profiles.md: amounts are exact decimals written as strings; TOML's 10.1 is a
    binary float."""
    line = next(ln for ln in BASE.splitlines() if ln.startswith(f"{field} ="))
    value = line.split('"')[1]
    path = _write(tmp_path, BASE.replace(line, f"{field} = {value}1", 1))
    with pytest.raises(ConfigError, match=rf"thresholds\.{field}: .*TOML float.*string"):
        load_profile_file(path)


def test_an_integer_amount_is_exact_and_accepted(tmp_path: Path) -> None:
    path = _write(tmp_path, BASE.replace('hoarding_limit = "9999.99"', 'hoarding_limit = 9999', 1))
    assert str(load_profile_file(path).thresholds.hoarding_limit) == "9999"


def test_the_cli_keeps_brackets_of_a_section_name(tmp_path: Path) -> None:
    """rich markup used to eat "[power_limit]" from the message ("lacks a  section")."""
    text = BASE.replace('capabilities = ["dlt645", "money",',
                        'capabilities = ["dlt645", "money", "power_limit",', 1)
    path = _write(tmp_path, text)
    done = subprocess.run([sys.executable, "-m", "rig.cli.main", "run", "--profile", str(path),
                           "--out", str(tmp_path)], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120, cwd=tmp_path)
    assert done.returncode == 2
    assert "lacks a [power_limit] section" in " ".join(done.stderr.split())
