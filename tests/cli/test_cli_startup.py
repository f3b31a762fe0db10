"""`rig --help` and `rig profiles` start without the billing centre's heavy dependencies.

A check of what gets imported, not a timing: SQLAlchemy, Alembic and matplotlib cost seconds
of start-up and only `rig billing …` and `rig run` need them.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("sqlalchemy", "alembic", "matplotlib", "pyvisa", "fastapi")

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


def test_profiles_loads_no_heavy_dependency() -> None:
    heavy, out = _heavy_imported("profiles")
    assert heavy == []
    assert "dlt645-1p-money" in out


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
