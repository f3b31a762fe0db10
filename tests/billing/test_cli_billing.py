"""`rig billing …` as an operator runs it (typer's CliRunner, and one real subprocess)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rig.billing import open_billing
from rig.cli.main import app
from tests.billing.api_helpers import readback_json

runner = CliRunner()
METER = "000012345678"


def rig(*args: str):
    return runner.invoke(app, ["billing", *args], env={"COLUMNS": "200"})


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'billing.sqlite'}"


@pytest.fixture
def ready(db: str) -> str:
    """A database with an operator of each role, a station, a customer, a tariff, a meter
    and a card — all made through the CLI."""
    for args in (
        ("operators", "add", "ann", "administrator"),  # the first: by set-up
        ("operators", "add", "sam", "supervisor", "--as", "ann"),
        ("operators", "add", "carol", "cashier", "--as", "ann"),
        ("operators", "station", "DESK-1", "--as", "ann"),
        ("customers", "add", "Ada Lovelace", "ACC-1", "--address", "1 Bench Road", "--as", "ann"),
        ("tariffs", "add", "RES", "--price", "0.1500", "--effective-from", "2024-01-01",
         "--as", "ann"),
        ("meters", "add", METER, "--customer", "ACC-1", "--tariff", "RES", "--profile",
         "emulated-1ph", "--unit", "money_cents", "--key-revision", "3",
         "--commissioning-wh", "1000", "--commissioned-at", "2024-01-01T00:00", "--as", "ann"),
        ("cards", "issue", METER, "C0DE000000000001", "--as", "ann"),
        ("session", "open", "--station", "DESK-1", "--float", "50.00", "--as", "carol"),
    ):
        done = rig(*args, "--db", db)
        assert done.exit_code == 0, (args, done.output)
    return db


def test_vend_prints_the_receipt_and_reprint_marks_it(ready: str) -> None:
    done = rig("vend", METER, "20.00", "--station", "DESK-1", "--as", "carol",
               "--request-id", "cli-1", "--db", ready)
    assert done.exit_code == 0, done.output
    assert "PREPAID ENERGY RECEIPT" in done.stdout and "credit    20.00" in done.stdout
    assert "PAID" in done.stdout and "20.00" in done.stdout
    assert "request id cli-1" in done.stderr
    again = rig("reprint", "1", "--as", "carol", "--db", ready)
    assert again.exit_code == 0 and "*** REPRINT 1 ***" in again.stdout
    with open_billing(ready) as c:
        (v,) = c.vends_for_meter(METER)
    assert (v.request_id, v.amount, v.operator, v.reprint_count) == ("cli-1", 20, "carol", 1)


def test_bad_input_is_named_and_changes_nothing(ready: str) -> None:
    cases = [
        (("vend", METER, "twenty", "--station", "DESK-1", "--as", "carol"), "'twenty' is not a"),
        (("vend", METER, "0.001", "--station", "DESK-1", "--as", "carol"), "fractions of a cent"),
        (("vend", "000000000404", "5", "--station", "DESK-1", "--as", "carol"),
         "000000000404 is not registered"),
        (("tariffs", "add", "RES", "--price", "0.2", "--block", "abc"), "--block 'abc' must"),
        (("tariffs", "add", "RES", "--price", "0.2", "--effective-from", "soon"),
         "'soon' is not an ISO 8601"),
        (("tariffs", "add", "RES", "--price", "0.2", "--as", "carol"),
         "'carol' is a cashier; adding a tariff needs an administrator"),
        (("customers", "add", "Ada", "ACC-1", "--as", "ann"),
         "customer account 'ACC-1' already exists"),
        (("meters", "add", "123", "--customer", "ACC-1", "--tariff", "RES", "--profile", "p",
          "--unit", "money_cents", "--as", "ann"), "must be exactly 12 digits"),
        (("customers", "add", "Bob", "ACC-2"), "registering a customer needs an operator"),
    ]
    # Refusals by the centre's rules exit 3, mistakes in the command exit 2 (docs/billing.md).
    refusals = {"000000000404 is not registered", "customer account 'ACC-1' already exists",
                "'carol' is a cashier; adding a tariff needs an administrator"}
    for args, message in cases:
        done = rig(*args, "--db", ready)
        assert done.exit_code == (3 if message in refusals else 2), (args, done.output)
        assert "error:" in done.stderr and message in done.stderr, (args, done.stderr)
    with open_billing(ready) as c:
        assert c.vends_for_meter(METER) == []
        assert [t.version for t in c.tariffs("RES")] == [1]
    done = rig("customers", "list", "--db", "nonsense://")
    assert done.exit_code == 2 and "databases are not supported" in done.stderr


def test_reverse_needs_a_supervisor(ready: str) -> None:
    assert rig("vend", METER, "10.00", "--station", "DESK-1", "--as", "carol",
               "--db", ready).exit_code == 0
    done = rig("reverse", "1", "--as", "carol", "--reason", "oops", "--db", ready)
    assert done.exit_code == 3 and "'carol' is a cashier; reversing a vend needs" in done.stderr
    done = rig("reverse", "1", "--as", "sam", "--reason", "card writer jammed", "--db", ready)
    assert done.exit_code == 0 and "vend 1 reversed" in done.stdout
    with open_billing(ready) as c:
        assert c.vend_by_id(1).status.value == "reversed"


def test_lists_and_tariff_structures(ready: str) -> None:
    done = rig("tariffs", "add", "BLK", "--price", "0.1000", "--kind", "block",
               "--block", "50000:0.1000", "--block", ":0.2500", "--tax", "VAT:15",
               "--fixed-monthly", "5.00", "--as", "ann", "--db", ready)
    assert done.exit_code == 0, done.output
    with open_billing(ready) as c:
        (blk,) = c.tariffs("BLK")
    assert [(b.up_to_wh, str(b.price_per_kwh)) for b in blk.blocks] == [
        (50000, "0.1000"), (None, "0.2500")]
    assert [(t.name, str(t.rate_percent)) for t in blk.taxes] == [("VAT", "15")]
    listing = rig("tariffs", "list", "--db", ready).stdout
    assert "BLK" in listing and "VAT 15%" in listing and "RES" in listing
    assert "ACC-1" in rig("customers", "list", "-s", "lovelace", "--db", ready).stdout
    assert "ACC-1" not in rig("customers", "list", "-s", "hopper", "--db", ready).stdout
    assert METER in rig("meters", "list", "--db", ready).stdout
    blocked = rig("meters", "status", METER, "blocked", "--as", "ann", "--db", ready)
    assert blocked.exit_code == 0 and "is blocked" in blocked.stdout


def test_readback_import_validates_first_and_reconciles(ready: str, tmp_path: Path) -> None:
    assert rig("vend", METER, "10.00", "--station", "DESK-1", "--as", "carol",
               "--db", ready).exit_code == 0
    good = readback_json(energy_wh=3000, remaining=970, purchase_count=1, last_sequence=1,
                         cumulative_purchase=1000, timestamp="2024-01-11T00:00:00+00:00",
                         card_serial="C0DE000000000001")  # with the meter's raw record
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([good, {**good, "energy_wh": "lots"}]))
    done = rig("readback", "import", str(bad), "--db", ready)
    assert done.exit_code == 2
    assert "bad.json: readback 1: energy_wh:" in done.stderr and "nothing imported" in done.stderr
    with open_billing(ready) as c:
        assert c.latest_reconciliation(METER) is None
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    done = rig("readback", "import", str(broken), "--db", ready)
    assert done.exit_code == 2 and "cannot read JSON" in done.stderr
    ok = tmp_path / "ok.json"
    ok.write_text(json.dumps(good))
    done = rig("readback", "import", str(ok), "--db", ready)
    assert done.exit_code == 0, done.output
    assert f"meter {METER} balanced" in done.stdout and "confirmed vends [1]" in done.stdout
    assert "MAC verified by the centre" in done.stdout
    with open_billing(ready) as c:
        assert c.vend_by_id(1).status.value == "confirmed"


def test_readback_import_verifies_the_mac_itself(ready: str, tmp_path: Path) -> None:
    assert rig("vend", METER, "10.00", "--station", "DESK-1", "--as", "carol",
               "--db", ready).exit_code == 0
    good = readback_json(energy_wh=3000, remaining=970, purchase_count=1, last_sequence=1,
                         cumulative_purchase=1000, timestamp="2024-01-11T00:00:00+00:00")
    forged = bytearray.fromhex(good["raw_hex"])
    forged[-1] ^= 0xFF
    claimed = tmp_path / "claimed.json"
    claimed.write_text(json.dumps({**good, "mac_verified": True}))
    done = rig("readback", "import", str(claimed), "--db", ready)
    assert done.exit_code == 2 and "mac_verified: Value error, a client cannot set" in done.stderr
    unverified = tmp_path / "unverified.json"
    unverified.write_text(json.dumps([{**good, "raw_hex": forged.hex()},
                                      {k: v for k, v in good.items() if k != "raw_hex"}]))
    done = rig("readback", "import", str(unverified), "--db", ready)
    assert done.exit_code == 0, done.output
    assert "verifying readbacks with readback key" in done.stderr
    assert done.stdout.count("mismatch (failed: mac_verified); UNVERIFIED") == 2, done.stdout
    with open_billing(ready) as c:
        assert c.vend_by_id(1).status.value == "created"
    key = tmp_path / "other-readback.key"
    key.write_text("00112233445566778899aabbccddeeff\n")
    ok = tmp_path / "ok.json"
    ok.write_text(json.dumps(good))
    done = rig("readback", "import", str(ok), "--db", ready, "--readback-key-file", str(key))
    assert "UNVERIFIED: MAC does not verify" in done.stdout  # another centre's key
    done = rig("readback", "import", str(ok), "--db", ready)
    assert "MAC verified by the centre" in done.stdout and "confirmed vends [1]" in done.stdout


def test_audit_verify_names_the_first_broken_link(ready: str, tmp_path: Path) -> None:
    with open_billing(ready) as c:
        events = len(c.audit_log())
    done = rig("audit", "verify", "--db", ready)
    assert done.exit_code == 0 and f"audit chain intact: {events} events" in done.stdout
    path = ready.removeprefix("sqlite:///")
    with sqlite3.connect(path) as raw:  # an intruder going round the append-only triggers
        raw.execute("DROP TRIGGER audit_events_no_update")
        raw.execute("UPDATE audit_events SET actor = 'mallory' WHERE seq IN (3, 5)")
    done = rig("audit", "verify", "--db", ready)
    assert done.exit_code == 1
    assert "audit chain broken at event 3" in done.stderr and "was altered" in done.stderr


def test_a_keyed_anchored_chain_catches_a_cut_tail_from_the_command_line(
        db: str, tmp_path: Path) -> None:
    key, anchor = tmp_path / "audit.key", tmp_path / "anchor.jsonl"
    made = rig("audit", "keygen", str(key))
    assert made.exit_code == 0 and "audit key " in made.stdout
    assert key.stat().st_mode & 0o777 == 0o600
    assert rig("audit", "keygen", str(key)).exit_code == 2  # never overwritten
    env = {"COLUMNS": "200", "RIG_AUDIT_KEY_FILE": str(key), "RIG_AUDIT_ANCHOR": str(anchor)}

    def keyed(*args: str):
        return runner.invoke(app, ["billing", *args, "--db", db], env=env)

    for args in (("operators", "add", "ann", "administrator"),  # 1 (set-up)
                 ("operators", "station", "D1", "--as", "ann"),  # 2 unauthenticated, 3
                 ("operators", "station", "D2", "--as", "ann"), ("audit", "checkpoint")):  # 4, 5
        assert keyed(*args).exit_code == 0
    done = keyed("audit", "verify")
    assert done.exit_code == 0, done.output
    assert "audit chain intact: 5 events (5 keyed, 0 legacy" in done.stdout
    assert key.read_text().strip() not in done.output + anchor.read_text()
    path = db.removeprefix("sqlite:///")
    with sqlite3.connect(path) as raw:  # the owner cuts the newest event
        raw.execute("DROP TRIGGER audit_events_no_delete")
        raw.execute("DELETE FROM audit_events WHERE seq = 5")
    done = keyed("audit", "verify")
    assert done.exit_code == 1
    assert "names event 5, but the chain ends at event 4" in done.stderr
    unkeyed = runner.invoke(app, ["billing", "audit", "verify", "--db", db],
                            env={"RIG_AUDIT_KEY_FILE": "", "RIG_AUDIT_ANCHOR": ""})
    assert unkeyed.exit_code == 1 and "verifying it needs that key" in unkeyed.stderr
    missing = rig("audit", "verify", "--db", db, "--audit-key-file", str(tmp_path / "nope"))
    assert missing.exit_code == 2 and "audit key file" in missing.stderr
    assert "does not exist" in missing.stderr


def test_token_create_prints_only_the_secret_which_then_authenticates(ready: str) -> None:
    done = rig("token", "create", "carol", "--by", "sam", "--db", ready)
    assert done.exit_code == 3 and "creating an API token needs an administrator" in done.stderr
    done = rig("token", "create", "carol", "--by", "ann", "--label", "till", "--db", ready)
    assert done.exit_code == 0, done.output
    secret = done.stdout.strip()
    assert secret.startswith("rig_") and "\n" not in secret
    assert "shown once" in done.stderr and secret not in done.stderr
    with open_billing(ready) as c:
        assert c.operator_for_token(secret).name == "carol"
    listing = rig("token", "list", "--db", ready)
    assert "carol" in listing.stdout and "live" in listing.stdout and secret not in listing.stdout
    assert rig("token", "revoke", "1", "--by", "ann", "--db", ready).exit_code == 0
    with open_billing(ready) as c:
        assert c.operator_for_token(secret) is None


def test_rig_billing_as_a_subprocess_uses_the_env_database(ready: str, tmp_path: Path) -> None:
    env = {**os.environ, "RIG_BILLING_DB": ready, "COLUMNS": "200"}
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "rig.cli.main", "billing", "vend", METER, "12.50",
         "--station", "DESK-1", "--as", "carol"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "12.50" in done.stdout and "credit    12.50" in done.stdout
    done = subprocess.run(
        [sys.executable, "-m", "rig.cli.main", "billing", "vend", METER, "5.00",
         "--station", "DESK-1", "--as", "carol"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 3 and "still carries purchase #1" in done.stderr
    assert not (cwd / "billing.sqlite").exists()  # the env var, not the default, was used


def test_lost_card_is_replaced_and_the_vend_moves_to_it(ready: str) -> None:
    assert rig("vend", METER, "10.00", "--station", "DESK-1", "--as", "carol",
               "--db", ready).exit_code == 0
    done = rig("cards", "replace", METER, "C0DE000000000002", "--as", "sam", "--db", ready)
    assert done.exit_code == 0, done.output
    assert "card C0DE000000000002 issued" in done.stdout
    assert "vends to write again: [1]" in done.stdout
    with open_billing(ready) as c:
        assert [(x.card_serial, x.status.value) for x in c.cards(METER)] == [
            ("C0DE000000000001", "lost"), ("C0DE000000000002", "active")]
        assert c.vend_by_id(1).card_serial == "C0DE000000000002"
    done = rig("cards", "status", "C0DE000000000002", "stolen", "--as", "ann", "--db", ready)
    assert done.exit_code == 2 and "card status 'stolen' is not one of" in done.stderr
    done = rig("cards", "status", "C0DE000000000002", "blocked", "--as", "ann", "--db", ready)
    assert done.exit_code == 0 and "C0DE000000000002 is blocked" in done.stdout
