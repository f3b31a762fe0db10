"""`rig billing …` applies the REST API's input rules (issue 19, section 4): money as plain ASCII
decimal text, what a card cannot carry, identifiers in their alphabet; one line, exit 2,
nothing written."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from rig.billing import open_billing
from rig.cli.main import app

runner = CliRunner()
METER = "000012345678"
BIG = str(2**64)


def rig(*args: str):
    return runner.invoke(app, ["billing", *args], env={"COLUMNS": "200"})


def test_the_cli_refuses_what_the_api_refuses(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'billing.sqlite'}"
    admin = ("--as", "ann")
    for args in (("operators", "add", "ann", "administrator"),
                 ("operators", "add", "carol", "cashier", *admin),
                 ("operators", "add", "sam", "supervisor", *admin),
                 ("operators", "station", "DESK-1", *admin),
                 ("customers", "add", "Ada", "ACC-1", *admin),
                 ("tariffs", "add", "RES", "--price", "0.1500", "--effective-from",
                  "2024-01-01", *admin),
                 ("meters", "add", METER, "--customer", "ACC-1", "--tariff", "RES",
                  "--profile", "dlt645-1p-money", "--unit", "money_cents", *admin),
                 ("cards", "issue", METER, "C0DE000000000001", *admin),
                 ("session", "open", "--station", "DESK-1", "--as", "carol")):
        done = rig(*args, "--db", db)
        assert done.exit_code == 0, (args, done.output)
    vend = ("vend", METER, "--station", "DESK-1", "--as", "carol")
    new_meter = ("meters", "add", "000000000077", "--customer", "ACC-1", "--tariff", "RES",
                 "--unit", "money_cents", *admin)
    tariff = ("tariffs", "add", "RES", *admin)
    cases = [
        ((*vend, "1e999"), "amount: '1e999' is not a decimal number"),
        ((*vend, "1E+999"), "is not a decimal number"),
        ((*vend, "12345678901234567890"), "more than 12 digits before the point"),
        ((*vend, "２０"), "'２０' is not a decimal number"),
        ((*vend, "٢٠"), "is not a decimal number"),
        ((*vend, "1_000"), "is not a decimal number"),
        ((*vend, "5e3"), "is not a decimal number"),
        ((*tariff, "--price", "1e20"), "--price: '1e20' is not"),
        ((*tariff, "--price", "500000"), "at most 429496.7295"),
        ((*tariff, "--price", "0.2", "--version", "70000"),
         "version: 70000 is outside 1..65535"),
        ((*tariff, "--price", "0.2", "--version", "-5"), "outside 1..65535"),
        ((*tariff, "--price", "0.2", "--effective-from",
          "0001-01-01T00:00+14:00"), "effective_from"),
        ((*tariff, "--price", "0.2", "--tax", "x" * 40 + ":15"),
         "taxes[0].name"),
        ((*new_meter, "--profile", "p", "--key-revision", "300"),
         "key_revision: 300 is outside 0..255"),
        ((*new_meter, "--profile", "p", "--key-revision", BIG), "key_revision"),
        ((*new_meter, "--profile", "../../etc/passwd"), "profile: '../../etc/passwd' is not"),
        ((*new_meter, "--profile", "p", "--hoarding-limit", BIG), "hoarding limit"),
        ((*new_meter, "--profile", "p", "--commissioning-wh", BIG), "commissioning_energy_wh"),
        (("meters", "add", "００００００００００７７", "--customer", "ACC-1", "--tariff", "RES",
          "--unit", "money_cents", "--profile", "p", *admin), "must be exactly 12 digits"),
        (("meters", "hoarding-limit", METER, "１２", *admin), "must be a whole number"),
        (("meters", "hoarding-limit", METER, BIG, *admin), "hoarding limit"),
        (("cards", "issue", METER, "C0DE000000000002", "--type", "anything", *admin),
         "card_type: 'anything'"),
        (("reverse", BIG, "--as", "sam", "--reason", "x"), f"no vend {BIG}"),
        (("reprint", BIG, "--as", "carol"), f"no vend {BIG}"),
    ]
    for args, message in cases:
        done = rig(*args, "--db", db)
        # an unknown record is the centre refusing (3), any other bad value a usage error (2)
        assert done.exit_code == (3 if message.startswith("no vend") else 2), (args, done.output)
        lines = [line for line in done.stderr.strip().splitlines()
                 if not line.startswith("acting as ")]  # --as: recorded, and said
        assert len(lines) == 1 and lines[0].startswith("error:"), (args, done.stderr)
        assert message in lines[0], (args, lines[0])
    with open_billing(db) as c:
        assert c.vends_for_meter(METER) == []
        assert [t.version for t in c.tariffs("RES")] == [1]
        assert [m.meter_no for m in c.meters()] == [METER]
        assert c.meter(METER).hoarding_limit == 999999  # the profile's, as registered
        assert len(c.cards(METER)) == 1
