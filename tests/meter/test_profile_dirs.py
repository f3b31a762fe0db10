"""A user's own profile directory adds models to rig's shipped profiles or overrides them.

Searched first: --profiles-dir / a bench config's `profiles_dir`, then $RIG_PROFILES_DIR; then
the profiles shipped inside the rig package.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rig.bench.config import load_bench_config
from rig.errors import ConfigError
from rig.profile import available_profiles, load_profile, profile_files

REFERENCE = "DDSY-1P-IC (reference model)"
SHIPPED = {"dlt645-1p-cpu-card", "dlt645-1p-memory-card", "dlt645-1p-money",
           "dlt645-1p-money-sts", "dlt645-3p-power-limit", "iec62056-1p-energy"}


def user_profile(directory: Path, name: str, model: str) -> Path:
    """A user's profile: rig's reference money meter under another name and model."""
    directory.mkdir(parents=True, exist_ok=True)
    text = profile_files()["dlt645-1p-money"].read_text(encoding="utf-8")
    assert f'model = "{REFERENCE}"' in text
    path = directory / f"{name}.toml"
    path.write_text(text.replace(f'model = "{REFERENCE}"', f'model = "{model}"'), "utf-8")
    return path


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RIG_PROFILES_DIR", raising=False)


def test_shipped_profiles_come_from_the_package() -> None:
    assert set(available_profiles()) == SHIPPED
    assert load_profile("dlt645-1p-money").identity.model == REFERENCE


def test_a_user_directory_adds_and_overrides(tmp_path: Path) -> None:
    mine = tmp_path / "profiles"
    user_profile(mine, "acme-1p", "ACME-1")
    user_profile(mine, "dlt645-1p-money", "OVERRIDDEN")
    assert set(available_profiles(mine)) == SHIPPED | {"acme-1p"}
    assert load_profile("acme-1p", mine).identity.model == "ACME-1"
    assert load_profile("acme-1p", mine).name == "acme-1p"
    assert load_profile("dlt645-1p-money", mine).identity.model == "OVERRIDDEN"
    assert load_profile("dlt645-1p-money").identity.model == REFERENCE  # no dir: shipped
    with pytest.raises(ConfigError, match=r"'acme-1p' not found in the profiles shipped"):
        load_profile("acme-1p")


def test_environment_variable_after_the_option(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    first, second, option = tmp_path / "a", tmp_path / "b", tmp_path / "opt"
    user_profile(first, "acme-1p", "FROM-A")
    user_profile(second, "acme-1p", "FROM-B")
    user_profile(second, "acme-3p", "ONLY-B")
    user_profile(option, "acme-1p", "FROM-OPTION")
    monkeypatch.setenv("RIG_PROFILES_DIR", os.pathsep.join([str(first), str(second)]))
    assert load_profile("acme-1p").identity.model == "FROM-A"
    assert load_profile("acme-3p").identity.model == "ONLY-B"
    assert load_profile("acme-1p", option).identity.model == "FROM-OPTION"


def test_a_missing_directory_names_its_setting(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"profiles_dir: meter profiles directory .*nope"):
        available_profiles(tmp_path / "nope")
    monkeypatch.setenv("RIG_PROFILES_DIR", str(tmp_path / "gone"))
    with pytest.raises(ConfigError, match=r"RIG_PROFILES_DIR: meter profiles directory .*gone"):
        load_profile("dlt645-1p-money")


def test_bench_config_profiles_dir_is_relative_to_the_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    user_profile(tmp_path / "lab" / "profiles", "acme-1p", "ACME-1")
    bench = tmp_path / "lab" / "benches" / "emulated.toml"
    bench.parent.mkdir(parents=True)
    bench.write_text('profile = "acme-1p"\nprofiles_dir = "../profiles"\n')
    config = load_bench_config(bench.relative_to(tmp_path))  # as `--bench benches/x.toml`
    assert config.profiles_dir == (tmp_path / "lab" / "profiles").resolve()
    again = type(config).model_validate(config.model_dump() | {"source": config.source})
    assert again.profiles_dir == config.profiles_dir  # `rig run` validates it a second time
    assert load_profile(config.profile, config.profiles_dir).identity.model == "ACME-1"


def test_rig_profiles_lists_where_each_comes_from(tmp_path: Path) -> None:
    path = user_profile(tmp_path / "profiles", "dlt645-1p-money", "OVERRIDDEN")
    env = {k: v for k, v in os.environ.items() if k != "RIG_PROFILES_DIR"}
    done = subprocess.run(
        [sys.executable, "-m", "rig.cli.main", "profiles", "--profiles-dir",
         str(tmp_path / "profiles")], cwd=tmp_path, capture_output=True, text=True,
        timeout=120, env=env | {"COLUMNS": "300"})
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    (mine,) = [line for line in lines if re.search(r"dlt645-1p-money(?![-\w])", line)]
    assert "OVERRIDDEN" in mine and str(path) in mine
    (shipped,) = [line for line in lines if "iec62056-1p-energy" in line]
    assert "shipped with rig" in shipped


def test_pytest_option_profiles_dir_reaches_the_plugin_fixtures(tmp_path: Path) -> None:
    user_profile(tmp_path / "mine", "acme-1p", "ACME-1")
    (tmp_path / "test_mine.py").write_text(
        "def test_profile(meter_profile, bench_config):\n"
        "    assert meter_profile.identity.model == 'ACME-1'\n"
        "    assert bench_config.profiles_dir.name == 'mine'\n")
    env = {k: v for k, v in os.environ.items() if k != "RIG_PROFILES_DIR"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_mine.py",
         "--meter-profile", "acme-1p", "--profiles-dir", "mine"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
