"""`rig run` options as a person types them: a wrong value is one line naming the option, what
it got and what it accepts, before anything starts (no run folder, no traceback).

The command line is parsed in-process (typer's CliRunner, the same argv through the same
app): a new `rig` interpreter per refused option cost about 0.75 s of CPU each;
tests/cli/test_cli.py runs `rig run` as a subprocess through the real entry point."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from rig.cli.main import app


def rig(*args: str, cwd: Path) -> Result:
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(cwd)
        return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--amount", "abc"], "--amount 'abc': not an amount of money"),
        (["--amount", "１５"], "--amount '１５': not an amount of money"),
        (["--amount", "5e3"], "--amount '5e3': not an amount of money"),
        (["--amount", "0"], "--amount '0': not an amount of money"),
        (["--amount", "10.123"], "at most 2 places"),
        (["--time-scale", "0"], "--time-scale '0': give the bench seconds per real second"),
        (["--time-scale", "-5"], "--time-scale '-5': give the bench seconds per real second"),
        (["--time-scale", "2000000"], "at most 1000000"),
        (["--power", "0"], "--power '0': give the load's power in whole watts, above 0"),
        (["--power", "1.5kW"], "--power '1.5kW'"),
        (["--suite", "certification", "--time-scale", "100"],
         "--time-scale does not apply to --suite"),
    ],
)
def test_a_wrong_option_is_one_line_naming_it(tmp_path: Path, args: list[str],
                                              says: str) -> None:
    done = rig("run", *args, "--out", str(tmp_path), cwd=tmp_path)
    assert done.exit_code == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ") and says in lines[0]
    assert "Traceback" not in done.stderr and "validation error" not in done.stderr
    assert not any(tmp_path.iterdir())  # nothing started, no run folder


def test_a_bench_config_refusing_the_override_names_the_file(tmp_path: Path) -> None:
    """A real bench runs at scale 1: --time-scale 10 on one is refused naming the file."""
    bench = tmp_path / "real.toml"
    bench.write_text('kind = "real"\ntime_scale = 1\n[meter]\nport = "/dev/ttyUSB0"\n'
                     '[card]\nreader = "R"\ncourier = "prompt"\n[load]\nresource = "X"\n'
                     '[billing]\nmaster_key_file = "k"\n', encoding="utf-8")
    done = rig("run", "--bench", str(bench), "--time-scale", "10", "--out", str(tmp_path),
               cwd=tmp_path)
    assert done.exit_code == 2
    assert str(bench) in done.stderr and "time_scale must be 1" in done.stderr
    assert "Traceback" not in done.stderr and "validation error" not in done.stderr
