"""`rig billing vends list` and `audit list`: what was sold and who did what, at a terminal."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from rig.cli.main import app

METER = "000000000321"


def _rig(db: str, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["billing", *args, "--db", db], env={"COLUMNS": "200"})


def test_vends_and_audit_events_are_listed(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'lists.sqlite'}"
    admin = ("--as", "ann")
    for args in (("operators", "add", "ann", "administrator"),
                 ("operators", "add", "carol", "cashier", *admin),
                 ("operators", "station", "DESK-1", *admin),
                 ("customers", "add", "Ada", "ACC-1", *admin),
                 ("tariffs", "add", "RES", "--price", "0.1500", "--effective-from",
                  "2024-01-01", *admin),
                 ("meters", "add", METER, "--customer", "ACC-1", "--tariff", "RES",
                  "--profile", "dlt645-1p-money", *admin),
                 ("cards", "issue", METER, "0123456789ABCDEF", *admin),
                 ("session", "open", "--station", "DESK-1", "--as", "carol"),
                 ("vend", METER, "12.50", "--station", "DESK-1", "--as", "carol")):
        done = _rig(db, *args)
        assert done.exit_code == 0, (args, done.output)
    listed = _rig(db, "vends", "list", METER)
    assert listed.exit_code == 0, listed.output
    row = next(line for line in listed.stdout.splitlines() if "12.50" in line)
    for cell in ("1250 money_cents", "created", "sale", "cash", "DESK-1", "carol"):
        assert cell in row, (cell, row)
    assert _rig(db, "vends", "list", "000000000999").exit_code == 3  # unknown: refused
    audit = _rig(db, "audit", "list", "--entity", "vend")
    assert audit.exit_code == 0, audit.output
    assert "vend.create" in audit.stdout and "carol" in audit.stdout
    everything = _rig(db, "audit", "list", "--last", "3")
    assert len([ln for ln in everything.stdout.splitlines() if "│" in ln and "seq" not in ln
                and ln.strip("│ ").split("│")[0].strip().isdigit()]) == 3
