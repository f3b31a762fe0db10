"""`rig --help` and `rig profiles` start without the billing centre's heavy dependencies.

A check of what gets imported, not a timing (bench/suite.py times them): SQLAlchemy, Alembic
and matplotlib cost seconds of start-up and only `rig billing …` and `rig run` need them;
`rig --help` builds no command and validates nothing, so it needs neither pydantic nor any
card or meter code; `rig profiles` validates every profile without the card, ESAM and meter
drivers beneath the formats and protocols the profiles name.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from rig.cli.lazy import load_entry
from rig.cli.main import app
from rig.cli.top_level import LAZY_GROUPS

HEAVY = ("sqlalchemy", "alembic", "matplotlib", "pyvisa", "fastapi", "smartcard", "serial",
         "cryptography", "rig.card", "rig.esam.esam", "rig.meter.dlt645", "rig.sim",
         "rig.scenarios")
NOT_FOR_HELP = ("pydantic", "rig.profile", "rig.card_formats", "rig.cli.billing")

_PROBE = """
import json, sys
from rig.cli.main import app
try:
    app(sys.argv[1:], prog_name="rig")
except SystemExit:
    pass
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


def _heavy_imported(*args: str) -> tuple[list[str], str]:
    done = subprocess.run([sys.executable, "-c", _PROBE.format(heavy=HEAVY), *args],
                          capture_output=True, text=True, timeout=120, check=False)
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stdout + done.stderr


def test_importing_the_cli_loads_no_heavy_dependency() -> None:
    code = f"import sys, rig.cli.main; print([m for m in {HEAVY!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.strip() == "[]"


def test_help_lists_billing_without_importing_it() -> None:
    heavy, out = _heavy_imported("--help")
    assert heavy == []
    assert "billing" in out and "Billing centre" in out


def test_help_builds_no_command_and_validates_nothing() -> None:
    code = ("import sys\nfrom rig.cli.main import app\ntry:\n"
            "    app(['--help'], prog_name='rig')\nexcept SystemExit:\n    pass\n"
            f"print([m for m in {NOT_FOR_HELP!r} if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"


def _top_level_help(capsys: pytest.CaptureFixture[str], *, loaded: bool) -> str:
    """`rig --help` as rendered from the lazy summaries, or with every entry built."""
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    if loaded:
        for name, (target, _) in LAZY_GROUPS.items():
            group.add_command(load_entry(target, name), name)
    capsys.readouterr()
    group.get_help(group.make_context("rig", [], resilient_parsing=True))
    return capsys.readouterr().out


def test_the_lazy_summaries_are_the_commands_own_help(capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """`rig --help` lists every command from its one-line summary without building it; what
    it prints is exactly what the built commands would show."""
    monkeypatch.setenv("COLUMNS", "200")
    lazy = _top_level_help(capsys, loaded=False)
    assert all(f" {name} " in lazy for name in LAZY_GROUPS)
    assert lazy == _top_level_help(capsys, loaded=True)


def test_profiles_loads_no_heavy_dependency() -> None:
    heavy, out = _heavy_imported("profiles")
    assert heavy == []
    assert "dlt645-1p-money" in out


BROKEN = {  # a profile's section → what is wrong with it, each checked without its driver
    "no-format": ('[card]\nformat = "magstripe"\n', "no card format 'magstripe' is installed"),
    "bad-dialect": ('[card]\nformat = "sle4442"\noptions = {dialect = "gemalto"}\n',
                    "'gemalto' is not one of acs, omnikey"),
    "bad-issuer": ('[card]\nformat = "sle4442"\noptions = {issue_dialect = "omnikey"}\n',
                   "'omnikey' is not one of acs"),
    "bad-esam": ('[esam]\nkey_state = "secret"\n', "esam.key_state"),
    "bad-sts": ('[sts]\npan = "600727000000000009"\nsupply_group = "123457"\n'
                'encryption = "rot13"\n', "sts.encryption"),
    "bad-register": ('[registers]\nenergy_total = "0000FF00"\n',
                     "data identifier 0000FF00 is not one rig can decode"),
}


def test_profiles_flags_each_broken_profile(tmp_path: Path) -> None:
    """A user's profile with a broken section is listed as bad with its reason, the others as
    ok, and the exit status says one failed: the checks the light imports must keep."""
    shipped = (Path(__file__).parents[2] / "rig" / "data" / "meter_profiles" /
               "dlt645-1p-money.toml").read_text()
    mine = tmp_path / "mine"
    mine.mkdir()
    for name, (section, _) in BROKEN.items():
        text = shipped
        header = section.split("\n", 1)[0]
        if header in text:  # replace the shipped section with the broken one
            start = text.index(header)
            end = text.find("\n[", start + 1)
            text = text[:start] + text[end + 1:] if end != -1 else text[:start]
        (mine / f"{name}.toml").write_text(f"{text}\n{section}")
    done = subprocess.run([sys.executable, "-m", "rig.cli.main", "profiles", "--profiles-dir",
                           str(mine)], capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "COLUMNS": "400"})
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stderr.splitlines()
    for name, (_, reason) in BROKEN.items():
        line = next(line for line in lines if f" {name} " in line)
        assert line.startswith("bad") and reason in line, line
    assert any(line.startswith("ok") and " dlt645-1p-money " in line for line in lines)


def test_billing_is_imported_when_named() -> None:
    heavy, out = _heavy_imported("billing", "--help")
    assert "sqlalchemy" in heavy
    assert "vend" in out and "tariffs" in out


def test_a_wrong_run_option_is_refused_before_the_heavy_imports() -> None:
    heavy, out = _heavy_imported("run", "--amount", "abc")
    assert {"sqlalchemy", "alembic", "matplotlib"}.isdisjoint(heavy)  # bench config: pyvisa
    assert "--amount 'abc': not an amount of money" in out


def test_a_run_on_a_local_centre_imports_neither_alembic_nor_the_http_client() -> None:
    """`rig run`'s modules and a new centre seeded from the migrated template: no migration
    runs (Alembic is not imported) and the served centre's client and the REST API's schemas
    stay out (a local database needs neither)."""
    code = (
        "import sys, tempfile, warnings; warnings.simplefilter('ignore')\n"
        "import rig.scenarios.runner, rig.scenarios.prepaid_cycle\n"
        "from rig.billing.connect import connect_billing\n"
        "c = connect_billing(f'sqlite:///{tempfile.mkdtemp()}/b.sqlite')\n"
        "c.register_station('DESK-1'); c.close()\n"
        "print([m for m in ('alembic', 'rig.billing.remote', 'rig.billing.api.schemas', "
        "'httpx') if m in sys.modules])")
    # Twice: the first run may have to make the template (that one migrates).
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=120, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout + done.stderr


def test_python_m_builds_its_commands_from_the_one_module() -> None:
    """`python -m rig.cli.main profiles` takes the lazy command from the running module, not
    from a second import of rig.cli.main (a second set of consoles and apps, and its time)."""
    code = ("import runpy, sys\nsys.argv = ['rig', 'profiles']\ntry:\n"
            "    runpy.run_module('rig.cli.main', run_name='__main__', alter_sys=True)\n"
            "except SystemExit:\n    pass\nprint(sys.modules['rig.cli.main'].__name__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert "ok  dlt645-1p-money" in done.stderr
    assert done.stdout.strip().splitlines()[-1] == "__main__"  # the module that ran
