"""`rig billing meters add --sts-pan …` registers a keypad meter with its STS identity (a bad
PAN refused in one line, nothing registered), `rig billing vend` prints its token, and
`rig billing sts …` issues management and key change tokens for supervisors only."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from rig.billing import open_billing
from rig.cli.main import app

METER = "000010020001"
ENV = {"COLUMNS": "200", "RIG_STS_KEY_FILE": ""}


def _rig(db: str, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["billing", *args, "--db", db], env=ENV)


def _ready(tmp_path: Path) -> str:
    db = f"sqlite:///{tmp_path / 'sts.sqlite'}"
    for args in (("operators", "add", "ann", "administrator"),
                 ("operators", "add", "sam", "supervisor", "--as", "ann"),
                 ("operators", "add", "carol", "cashier", "--as", "ann"),
                 ("operators", "station", "DESK-1", "--as", "ann"),
                 ("customers", "add", "Ada", "ACC-1", "--as", "ann"),
                 ("tariffs", "add", "RES", "--price", "0.1500", "--effective-from",
                  "2024-01-01", "--as", "ann")):
        done = _rig(db, *args)
        assert done.exit_code == 0, done.output
    return db


def _add(db: str, *sts: str):  # type: ignore[no-untyped-def]
    return _rig(db, "meters", "add", METER, "--customer", "ACC-1", "--tariff", "RES",
                "--profile", "iec62056-1p-energy", "--as", "ann", *sts)


def test_a_keypad_meter_is_registered_sold_to_and_managed(tmp_path: Path) -> None:
    db = _ready(tmp_path)
    bad = _add(db, "--sts-pan", "600727000000000008")
    assert bad.exit_code == 2 and "Luhn check digit" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1  # one line, no traceback
    with open_billing(db) as c:
        assert c.meters() == []  # nothing registered
    assert _add(db, "--sts-supply-group", "123456").exit_code == 2  # needs --sts-pan
    done = _add(db, "--sts-pan", "600727000000000009", "--sts-key-revision", "2")
    assert done.exit_code == 0, done.output
    with open_billing(db) as c:
        ident = c.sts_identity(METER)
    assert ident is not None and ident.key_revision == 2
    assert ident.supply_group == "123456" and ident.base_date == 2014  # from the profile
    assert _rig(db, "session", "open", "--station", "DESK-1", "--float", "0.00",
                "--as", "carol").exit_code == 0
    sold = _rig(db, "vend", METER, "20.00", "--as", "carol")
    assert sold.exit_code == 0, sold.output
    assert re.search(r"TOKEN \(type on the meter\)\s+(\d{4} ){4}\d{4}", sold.stdout)
    assert "types the token on meter" in sold.stderr
    refused = _rig(db, "sts", "power-limit", METER, "1000", "--as", "carol")
    assert refused.exit_code == 3 and "cashier" in refused.stderr
    limit = _rig(db, "sts", "power-limit", METER, "1000", "--as", "sam")
    assert limit.exit_code == 0 and "power limit 1000 W" in limit.stdout
    keys = _rig(db, "sts", "key-change", METER, "--key-revision", "3", "--as", "sam")
    assert keys.exit_code == 0 and keys.stdout.count("key change KRN 3") == 2
    listed = _rig(db, "sts", "tokens", METER, "--as", "sam")
    assert listed.stdout.count(METER) == 4  # the sale, the limit, two key change sections


def test_a_money_keypad_meter_takes_its_currency_step_from_the_command_line(
        tmp_path: Path) -> None:
    db = _ready(tmp_path)
    base = ("meters", "add", METER, "--customer", "ACC-1", "--tariff", "RES", "--profile",
            "dlt645-1p-money-sts", "--as", "ann", "--sts-pan", "600727000000000009")
    fraction = _rig(db, *base, "--sts-currency-step", "0.001")
    assert fraction.exit_code == 2 and "currency_step" in fraction.stderr, fraction.output
    with open_billing(db) as c:
        assert c.meters() == []  # nothing registered
    done = _rig(db, *base, "--sts-currency-step", "0.01")
    assert done.exit_code == 0, done.output
    with open_billing(db) as c:
        ident = c.sts_identity(METER)
    assert ident is not None and str(ident.currency_step) == "0.01"
    hoarding = _rig(db, "meters", "hoarding", METER)
    assert hoarding.exit_code == 0 and "basis: no readback yet" in hoarding.stdout


def test_a_keypad_meter_whose_identity_is_refused_is_not_registered(tmp_path: Path) -> None:
    """The meter and its STS identity are one unit of work: a PAN that is already another
    meter's is refused after the meter row is written, and the meter goes with it."""
    db = _ready(tmp_path)
    assert _add(db, "--sts-pan", "600727000000000009").exit_code == 0
    other = "000010020002"
    taken = _rig(db, "meters", "add", other, "--customer", "ACC-1", "--tariff", "RES",
                 "--profile", "iec62056-1p-energy", "--as", "ann",
                 "--sts-pan", "600727000000000009")
    assert taken.exit_code != 0 and "already registered to another meter" in taken.stderr
    assert taken.stderr.strip().splitlines()[-1].startswith("error: STS PAN")  # one line
    assert "Traceback" not in taken.stderr
    with open_billing(db) as c:
        assert [x.meter_no for x in c.meters()] == [METER]  # the second meter is not there
    again = _rig(db, "meters", "add", other, "--customer", "ACC-1", "--tariff", "RES",
                 "--profile", "iec62056-1p-energy", "--as", "ann",
                 "--sts-pan", "600727000000000017")
    assert again.exit_code == 0, again.output  # nothing half done stands in its way
