"""`rig billing meters add` takes the meter's model from its profile, and `cards issue` only a
serial the card writer can personalise (issue 30: key revision 0 against the profiles' 1, no
hoarding limit, a CARD-0001 serial refused only later at the writer)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from rig.billing import open_billing
from rig.cli.main import app
from rig.profile import load_profile

METER = "000000000123"


def _rig(db: str, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["billing", *args, "--db", db], env={"COLUMNS": "200"})


def _ready(tmp_path: Path) -> str:
    db = f"sqlite:///{tmp_path / 'reg.sqlite'}"
    for args in (("customers", "add", "Ada", "ACC-1"),
                 ("tariffs", "add", "RES", "--price", "0.1500", "--effective-from",
                  "2024-01-01")):
        assert _rig(db, *args).exit_code == 0
    return db


def test_a_meter_takes_unit_key_revision_and_hoarding_limit_from_its_profile(
        tmp_path: Path) -> None:
    db = _ready(tmp_path)
    done = _rig(db, "meters", "add", METER, "--customer", "ACC-1", "--tariff", "RES",
                "--profile", "dlt645-3p-power-limit")
    assert done.exit_code == 0, done.output
    assert "defaults from profile dlt645-3p-power-limit" in done.stdout
    profile = load_profile("dlt645-3p-power-limit")
    with open_billing(db) as c:
        meter = c.meter(METER)
    assert meter.credit_unit.value == "money_cents"
    assert meter.key_revision == profile.card.key_revision == 1
    assert meter.hoarding_limit == profile.to_credit_units(profile.thresholds.hoarding_limit)


def test_an_option_overrides_and_a_contradicting_unit_is_refused(tmp_path: Path) -> None:
    db = _ready(tmp_path)
    done = _rig(db, "meters", "add", METER, "--customer", "ACC-1", "--tariff", "RES",
                "--profile", "iec62056-1p-energy", "--unit", "money_cents")
    assert done.exit_code == 2
    assert "profile 'iec62056-1p-energy' counts credit in energy_wh" in done.stderr
    done = _rig(db, "meters", "add", METER, "--customer", "ACC-1", "--tariff", "RES",
                "--profile", "iec62056-1p-energy", "--key-revision", "4",
                "--hoarding-limit", "5000")
    assert done.exit_code == 0, done.output
    with open_billing(db) as c:
        meter = c.meter(METER)
    assert (meter.credit_unit.value, meter.key_revision, meter.hoarding_limit) == \
        ("energy_wh", 4, 5000)


def test_a_model_rig_has_no_profile_for_needs_its_unit(tmp_path: Path) -> None:
    db = _ready(tmp_path)
    done = _rig(db, "meters", "add", METER, "--customer", "ACC-1", "--tariff", "RES",
                "--profile", "vendor-x-1p")
    assert done.exit_code == 2 and "give --unit" in done.stderr
    done = _rig(db, "meters", "add", METER, "--customer", "ACC-1", "--tariff", "RES",
                "--profile", "vendor-x-1p", "--unit", "energy_wh")
    assert done.exit_code == 0, done.output


def test_a_card_serial_the_writer_cannot_personalise_is_refused_at_issue(
        tmp_path: Path) -> None:
    db = _ready(tmp_path)
    assert _rig(db, "meters", "add", METER, "--customer", "ACC-1", "--tariff", "RES",
                "--profile", "dlt645-1p-money").exit_code == 0
    for bad in ("CARD-0001", "0123456789ABCDE", "0123456789ABCDEFF", "0123456789ABCDEG"):
        done = _rig(db, "cards", "issue", METER, bad)
        assert done.exit_code == 2, bad
        assert "16 hex digits" in done.stderr
    with open_billing(db) as c:
        assert c.cards(METER) == []
    done = _rig(db, "cards", "issue", METER, "0123456789abcdef")
    assert done.exit_code == 0, done.output
    with open_billing(db) as c:
        assert [x.card_serial for x in c.cards(METER)] == ["0123456789ABCDEF"]
