"""Bench configs and card couriers: clear errors instead of surprises at the bench."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from rig.bench.config import BenchConfig, load_bench_config
from rig.bench.courier import CommandCourier
from rig.errors import ConfigError, RigError

REAL = """
kind = "real"
station_id = "lab-1"
time_scale = 1
[meter]
port = "/dev/ttyUSB0"
[card]
reader = "ACS"
courier = "prompt"
[load]
resource = "TCPIP0::10.0.0.9::5025::SOCKET"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bench.toml"
    path.write_text(text)
    return path


def test_real_bench_config_loads(tmp_path: Path) -> None:
    config = load_bench_config(write(tmp_path, REAL))
    assert config.kind == "real"
    assert config.meter.port == "/dev/ttyUSB0"
    assert config.source == tmp_path / "bench.toml"


@pytest.mark.parametrize(("text", "field", "problem"), [
    (REAL.replace('port = "/dev/ttyUSB0"', ""), "<root>", "meter.port"),
    (REAL.replace("time_scale = 1", "time_scale = 60"), "<root>", "time_scale must be 1"),
    (REAL.replace('courier = "prompt"', 'courier = "emulated"'), "<root>", "'prompt' or"),
    (REAL + "\n[dut]\nserial = 5\n", "dut.serial", "string"),
    (REAL.replace('station_id = "lab-1"', 'station = "lab-1"'), "station", "Extra inputs"),
    ("kind = 'emulated'\ntime_scale = -3\n", "time_scale", "greater than 0"),
])
def test_invalid_config_names_file_field_and_problem(tmp_path: Path, text: str, field: str,
                                                     problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_bench_config(write(tmp_path, text))
    message = str(err.value)
    assert str(tmp_path / "bench.toml") in message
    assert field in message
    assert problem in message


def test_broken_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_bench_config(write(tmp_path, "kind = "))
    with pytest.raises(ConfigError, match="not found"):
        load_bench_config(tmp_path / "nope.toml")


def test_default_is_an_emulated_bench() -> None:
    assert BenchConfig().kind == "emulated"


def test_operator_prompt_without_terminal_fails_clearly() -> None:
    """In CI (no terminal) a manual step is an error naming the step, never a hang."""
    code = ("from rig.bench.courier import PromptCourier\n"
            "PromptCourier(timeout_s=5).move('meter')\n")
    done = subprocess.run([sys.executable, "-c", code], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "needs a terminal" in done.stderr
    assert "into the meter" in done.stderr


def test_operator_prompt_times_out_on_a_terminal() -> None:
    """On a real terminal (a pty here) an unanswered prompt ends after its timeout."""
    import os
    import pty

    code = ("import sys\nfrom rig.bench.courier import PromptCourier\n"
            "try:\n    PromptCourier(timeout_s=0.5).move('writer')\n"
            "except Exception as e:\n    print('ERR', e, file=sys.stderr); sys.exit(3)\n")
    master, slave = pty.openpty()
    try:
        done = subprocess.run([sys.executable, "-c", code], stdin=slave, capture_output=True,
                              text=True, timeout=60)
    finally:
        os.close(master)
        os.close(slave)
    assert done.returncode == 3
    assert "did not answer 'move the card into the card writer' within 0.5 s" in done.stderr


def _prompt_on_pty(code: str, typed: bytes) -> subprocess.CompletedProcess[str]:
    """Run `code` with a pty as its terminal, type `typed`, keep the terminal open."""
    import os
    import pty

    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-c", code], stdin=slave,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        os.write(master, typed)
        out, err = proc.communicate(timeout=60)
    finally:
        os.close(master)
        os.close(slave)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


_CATCH = ("import sys\nfrom rig.bench.courier import PromptCourier\n"
          "try:\n    PromptCourier(timeout_s=0.5).move('meter')\n"
          "except Exception as e:\n    print('ERR', e, file=sys.stderr); sys.exit(3)\n")


def test_unanswered_display_question_times_out_too() -> None:
    """Enter confirms the move; the follow-up question has its own timeout, never a hang."""
    done = _prompt_on_pty(_CATCH, b"\n")
    assert done.returncode == 3
    assert "did not answer 'read the meter display'" in done.stderr


def test_end_of_input_on_the_terminal_is_a_clear_error() -> None:
    done = _prompt_on_pty(_CATCH, b"\x04")  # Ctrl-D: the operator closed the input
    assert done.returncode == 3
    assert "the terminal closed (end of input)" in done.stderr


def test_operator_prompt_with_stdin_closed_fails_clearly() -> None:
    """A process started with no stdin at all (a service) gets the no-terminal error."""
    import os

    code = ("import sys\nfrom rig.bench.operator import OperatorConsole\n"
            "try:\n    OperatorConsole(5).confirm('press the emergency credit key')\n"
            "except Exception as e:\n    print('ERR', e, file=sys.stderr); sys.exit(3)\n")
    done = subprocess.run([sys.executable, "-c", code], preexec_fn=lambda: os.close(0),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 3
    assert "'press the emergency credit key' needs a terminal" in done.stderr


def test_operator_prompt_answered_on_a_terminal() -> None:
    import os
    import pty

    code = ("from rig.bench.courier import PromptCourier\n"
            "d = PromptCourier(timeout_s=20).move('meter')\nprint('MSG', d.meter_message)\n")
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-c", code], stdin=slave,
                                stdout=subprocess.PIPE, text=True)
        os.write(master, b"\nCREDIT 30.00\n")
        out, _ = proc.communicate(timeout=30)
    finally:
        os.close(master)
        os.close(slave)
    assert proc.returncode == 0
    assert "MSG CREDIT 30.00" in out


def test_card_actuator_command(tmp_path: Path) -> None:
    script = tmp_path / "arm"
    script.write_text("#!/bin/sh\necho \"moved to $1\"\n[ \"$1\" != hand ]\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    courier = CommandCourier(str(script))
    assert courier.move("meter").meter_message == "moved to meter"
    with pytest.raises(RigError, match="exited 1"):
        courier.move("hand")
    with pytest.raises(RigError, match="card actuator"):
        CommandCourier(str(tmp_path / "missing")).move("meter")


