"""Issue 19 §1: a real bench never falls back to rig's public lab test key.

A real bench names its own key (`billing.master_key_file` or $RIG_MASTER_KEY) or says
`lab_test_key = true`; a key that is named but cannot be read is an error naming the setting.
Every record of a run on the lab test key says so (the bench identity).
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import pytest

from rig.bench.bench import open_bench
from rig.bench.config import load_bench_config
from rig.bench.master_key import bench_master_key
from rig.card.keys import LAB_TEST_KEY_ID, KeyLoadError, MasterKey
from rig.errors import ConfigError
from rig.sim.emulated_bench import lab_master_key

OWN_KEY = "5a3c96e10f4b28d7c1e07a5b3f9d2468"
PUBLIC_LABEL = f"{LAB_TEST_KEY_ID} (public test key)"


def real_bench(tmp_path: Path, extra: str = "", billing: str = "") -> Path:
    """A real bench config; its parts are never reached (the key is judged first)."""
    path = tmp_path / "lab.toml"
    path.write_text(
        f'kind = "real"\ntime_scale = 1\nstation_id = "LAB-1"\n{extra}\n'
        '[meter]\nport = "/dev/ttyUSB-nonexistent"\n'
        '[card]\nreader = "no such reader"\ncourier = "prompt"\n'
        '[load]\nresource = "TCPIP0::192.0.2.1::5025::SOCKET"\n'
        f"[billing]\n{billing}\n", encoding="utf-8")
    return path


@pytest.fixture
def no_key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RIG_MASTER_KEY", raising=False)


def test_real_bench_without_a_key_is_refused_naming_the_settings(
        tmp_path: Path, no_key_env: None) -> None:
    config = load_bench_config(real_bench(tmp_path))
    with pytest.raises(ConfigError) as info, open_bench(config):
        pass
    message = str(info.value)
    assert "billing.master_key_file" in message and "RIG_MASTER_KEY" in message
    assert "lab_test_key = true" in message and str(config.source) in message


def test_real_bench_with_an_unreadable_key_file_is_refused(
        tmp_path: Path, no_key_env: None) -> None:
    missing = tmp_path / "keys" / "issuer.key"
    config = load_bench_config(real_bench(tmp_path, billing=f'master_key_file = "{missing}"'))
    with pytest.raises(ConfigError, match=r"billing\.master_key_file: key file .*issuer\.key: "
                                          r"cannot read"):
        bench_master_key(config)
    missing.parent.mkdir()
    missing.write_text("not hex at all\n")
    with pytest.raises(ConfigError, match=r"billing\.master_key_file: .* not valid hex"):
        bench_master_key(config)


@pytest.mark.parametrize("kind", ["real", "emulated"])
def test_a_malformed_rig_master_key_is_an_error_not_the_lab_key(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    monkeypatch.setenv("RIG_MASTER_KEY", "00" * 15)  # one byte short
    path = real_bench(tmp_path) if kind == "real" else tmp_path / "emulated.toml"
    if kind == "emulated":
        path.write_text('kind = "emulated"\n')
    with pytest.raises(KeyLoadError, match="environment variable RIG_MASTER_KEY"):
        bench_master_key(load_bench_config(path))
    with pytest.raises(KeyLoadError, match="environment variable RIG_MASTER_KEY"):
        lab_master_key()  # what an emulated meter is made with


def test_the_public_key_in_a_real_benchs_own_key_file_is_refused(
        tmp_path: Path, no_key_env: None) -> None:
    copy = tmp_path / "issuer.key"
    copy.write_text((files("rig") / "data" / "keys" / "lab-master.key").read_text("utf-8"))
    config = load_bench_config(real_bench(tmp_path, billing=f'master_key_file = "{copy}"'))
    with pytest.raises(ConfigError, match=rf"billing\.master_key_file holds rig's public test "
                                          rf"key \(id {LAB_TEST_KEY_ID}\)"):
        bench_master_key(config)


def test_public_key_only_when_the_config_says_lab_test_key(
        tmp_path: Path, no_key_env: None, caplog: pytest.LogCaptureFixture) -> None:
    config = load_bench_config(real_bench(tmp_path, extra="lab_test_key = true"))
    key = bench_master_key(config)
    assert key.is_public_test_key and key.label == PUBLIC_LABEL
    assert "LAB-1 uses rig's public test key" in caplog.text


def test_a_real_benchs_own_key_is_used_and_not_labelled(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIG_MASTER_KEY", OWN_KEY)
    key = bench_master_key(load_bench_config(real_bench(tmp_path)))
    assert key == MasterKey.from_hex(OWN_KEY)
    assert "public" not in key.label
    key_file = tmp_path / "issuer.key"
    key_file.write_text(OWN_KEY)
    monkeypatch.delenv("RIG_MASTER_KEY")
    config = load_bench_config(real_bench(tmp_path, billing=f'master_key_file = "{key_file}"'))
    assert bench_master_key(config) == key


def test_rig_run_refuses_a_real_bench_without_a_key_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "RIG_MASTER_KEY"}
    done = subprocess.run(
        [sys.executable, "-m", "rig.cli.main", "run", "--bench", str(real_bench(tmp_path)),
         "--out", str(tmp_path / "runs")], cwd=tmp_path, capture_output=True, text=True,
        timeout=120, stdin=subprocess.DEVNULL, env=env)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "billing.master_key_file" in lines[0], done.stderr
    assert not (tmp_path / "runs").exists()  # refused before any run started


def test_emulated_bench_identity_says_public_test_key(no_key_env: None) -> None:
    from rig.bench.config import BenchConfig

    with open_bench(BenchConfig(time_scale=36000.0)) as bench:
        assert bench.identity["master_key"] == PUBLIC_LABEL
        assert bench.master_key.is_public_test_key
