"""The pytest plugin's --bench and --meter-profile as a lab uses them: a broken file is one
usage error before any test; a real bench is certified as the one meter its config names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def pytest_run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                           "-o", "addopts=", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)


def test_a_broken_bench_config_is_one_usage_error_before_any_test(tmp_path: Path) -> None:
    bench = tmp_path / "bench.toml"
    bench.write_text('kind = "emulated"\ntime_scale = -4\n', encoding="utf-8")
    done = pytest_run("--bench", str(bench), str(REPO / "tests/scenarios"), cwd=tmp_path)
    assert done.returncode == 4, done.stdout + done.stderr  # pytest's usage error
    assert f"rig: {bench}: invalid bench config: time_scale" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert " passed" not in done.stdout and " failed" not in done.stdout


def test_an_unknown_meter_profile_is_one_usage_error(tmp_path: Path) -> None:
    done = pytest_run("--meter-profile", "no-such-meter", str(REPO / "tests/scenarios"),
                      cwd=tmp_path)
    assert done.returncode == 4
    assert "rig: meter profile 'no-such-meter' not found" in done.stderr


def test_a_real_bench_certifies_the_profile_its_config_names(tmp_path: Path) -> None:
    key = tmp_path / "operator.key"
    key.write_text("5a3c96e10f4b28d7c1e07a5b3f9d2468\n", encoding="utf-8")
    bench = tmp_path / "real.toml"
    bench.write_text(
        'kind = "real"\ntime_scale = 1\nprofile = "dlt645-3p-power-limit"\n'
        '[meter]\nport = "/dev/ttyUSB0"\n[card]\nreader = "ACS ACR38U 00 00"\n'
        'courier = "prompt"\n[load]\nresource = "TCPIP0::192.0.2.10::5025::SOCKET"\n'
        f'[billing]\nmaster_key_file = "{key}"\n', encoding="utf-8")
    done = pytest_run("--bench", str(bench), "--collect-only", "-q",
                      str(REPO / "rig/suites/certification"), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    collected = [line for line in done.stdout.splitlines() if "::" in line]
    assert collected
    assert all("[dlt645-3p-power-limit]" in line for line in collected), collected[:5]
