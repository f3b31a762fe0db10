"""Attacks on the audit trail, performed on a real database (SQLite file and PostgreSQL).

Someone with the database owner's rights — but not the centre's audit key, nor write access
to its anchor file — switches the append-only triggers off and then: cuts the newest events,
empties the log, edits an event and re-computes the chain with the public ``event_hash``, or
edits the ledger tables the events describe. ``verify`` must say which, every time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from rig.billing import BillingCentre, audit, open_billing
from rig.billing.audit import AuditKeyMismatch
from rig.billing.audit_key import AuditConfig, AuditKey
from rig.faults.audit_attacks import (
    ATTACKS,
    events,
    populate,
    rehash,
    run_audit_campaign,
    tamper,
)


@dataclass
class Site:
    url: str
    config: AuditConfig
    secret_hex: str

    def open(self, config: AuditConfig | None = None) -> BillingCentre:
        return open_billing(self.url, audit=config or self.config)

    def verify(self) -> audit.ChainReport:
        with self.open() as c:
            return c.verify_audit_chain()


@pytest.fixture
def site(billing_url: str, tmp_path: Path) -> Iterator[Site]:
    key = AuditKey.generate()
    key.write(tmp_path / "audit.key")
    config = AuditConfig(AuditKey.from_file(tmp_path / "audit.key"), tmp_path / "anchor.jsonl")
    with open_billing(billing_url, audit=config) as c:
        populate(c, tmp_path)
    yield Site(billing_url, config, (tmp_path / "audit.key").read_text().strip())


def test_an_untouched_ledger_verifies_keyed_anchored_and_with_its_totals(site: Site) -> None:
    report = site.verify()
    assert report.ok, report.problems
    assert report.keyed == report.events > 20 and report.legacy == 0 and report.checkpoints >= 2
    assert report.totals["vends"] == "4" and report.totals["vends reversed"] == "1"
    assert report.totals["sales total"] == "45.00"  # 20 + 10 + 15; the 40 was reversed
    assert report.totals["agent Corner Shop float"] == "185.00"  # 200 − 40 + 40 − 15
    assert report.totals["debts outstanding"] == "28.50"  # 10 % of 15 recovered
    assert report.totals["bank payments pending"] == "12.00"
    assert report.totals["tariff RES in force"] == "v1 at 0.1500/kWh"


def test_the_key_is_in_no_row_checkpoint_or_report(site: Site, tmp_path: Path) -> None:
    engine = create_engine(site.url)
    with engine.connect() as conn:
        dump = "\n".join(str(row) for table in ("audit_events", "vends", "agent_entries")
                         for row in conn.execute(text(f"SELECT * FROM {table}")))
    engine.dispose()
    report = site.verify()
    shown = dump + (tmp_path / "anchor.jsonl").read_text() + repr(report) + repr(site.config)
    assert site.secret_hex not in shown and site.config.key is not None
    assert site.config.key.key_id in shown  # the id names it; the key stays secret


def test_truncating_the_tail_is_detected(site: Site) -> None:
    head = site.verify().events
    tamper(site.url, ATTACKS["truncate_tail"])
    report = site.verify()
    assert not report.ok
    assert any(f"names event {head}, but the chain ends at event {head - 3}" in p
               for p in report.problems), report.problems


def test_deleting_every_event_is_detected(site: Site) -> None:
    tamper(site.url, ATTACKS["delete_all"])
    report = site.verify()
    assert not report.ok and report.events == 0
    assert any("but the chain ends at event 0" in p for p in report.problems)
    assert any("vends row" in p and "is not in the audit log" in p for p in report.problems)


def test_an_edit_rehashed_with_the_public_function_is_detected(site: Site) -> None:
    """``rehash``: the first sale's amount raised in its event and row, every hash after it
    re-computed with ``event_hash`` — once keeping the key ids, once posing as legacy."""
    for as_legacy in (False, True):
        def rewrite(s: Session, as_legacy: bool = as_legacy) -> None:
            rehash(s, as_legacy=as_legacy)

        tamper(site.url, rewrite)
        report = site.verify()
        assert not report.ok
        if as_legacy:  # a consistent legacy chain: only the checkpoints tell
            assert any("is not the one checkpointed" in p for p in report.problems)
        else:
            assert "was altered: its content no longer matches its MAC" in report.problem


# attack (rig.faults.audit_attacks.ATTACKS) -> what verify must say about the row
LEDGER_EDITS = {
    "vend_amount": "amount is 100.00 in the ledger, 10.00 in the audit log",
    "vend_reversed_by_hand": "status is reversed in the ledger, created in the audit log",
    "vend_deleted": "is in the audit log but not in the ledger (deleted)",
    "agent_topup_inserted": "(topup 1000.00) is not in the audit log",
    "agent_draw_altered": "amount is 0.00 in the ledger, -15.00 in the audit log",
    "tariff_price": "price per kWh is 0.0500 in the ledger, 0.1500 in the audit log",
    "debt_written_off": "outstanding is 0.00 in the ledger, 28.50 in the audit log",
    "bank_payment_inflated": "amount is 120.00 in the ledger, 12.00 in the audit log",
}


@pytest.mark.parametrize("edit", list(LEDGER_EDITS))
def test_ledger_edits_are_reported_row_by_row(site: Site, edit: str) -> None:
    assert site.verify().ok
    tamper(site.url, ATTACKS[edit])
    report = site.verify()
    assert not report.ok and report.broken_seq is None  # the chain itself holds
    assert any(LEDGER_EDITS[edit] in p for p in report.problems), report.problems


def test_a_forged_checkpoint_and_a_wrong_anchor_are_problems(site: Site, tmp_path: Path) -> None:
    anchor = tmp_path / "anchor.jsonl"
    anchor.write_text(anchor.read_text().replace('"seq": 1,', '"seq": 9999,', 1))
    report = site.verify()
    assert not report.ok
    assert any("was altered or forged" in p for p in report.problems), report.problems
    elsewhere = AuditConfig(site.config.key, tmp_path / "empty.jsonl")
    with site.open() as c:
        assert "holds no checkpoint of this chain" in c.verify_audit_chain(elsewhere).problem


def test_a_centre_with_another_key_or_none_cannot_append(site: Site) -> None:
    for config in (AuditConfig(AuditKey.generate()), AuditConfig()):
        with site.open(config) as c, pytest.raises(AuditKeyMismatch, match="nothing was "
                                                                            "written"):
            c.register_station("DESK-9")
    assert site.verify().ok


def test_a_legacy_chain_verifies_as_legacy_and_is_sealed_by_the_first_keyed_event(
        billing_url: str, tmp_path: Path) -> None:
    with open_billing(billing_url, audit=AuditConfig()) as old:  # before keys existed
        populate(old, tmp_path)
        legacy = old.verify_audit_chain()
    assert legacy.ok and legacy.keyed == 0 and legacy.legacy == legacy.events
    assert any("legacy (unkeyed SHA-256, not sealed yet)" in n for n in legacy.notes)
    config = AuditConfig(AuditKey.generate(), tmp_path / "anchor.jsonl")
    with open_billing(billing_url, audit=config) as c:
        c.register_station("DESK-2")
        report = c.verify_audit_chain()
    assert report.ok and report.keyed == 1 and report.legacy == legacy.events
    assert any("sealed by the first keyed event" in n for n in report.notes)

    def rewrite_legacy(s: Session) -> None:  # re-hash the legacy prefix after an edit
        prev = audit.GENESIS
        for row in events(s):
            if row.key_id is not None:
                break
            if row.action == "vend.create":
                row.actor = "mallory"
            row.prev_hash = prev
            row.hash = prev = audit.event_hash(row.seq, row.at, row.actor, row.action,
                                               row.entity, row.entity_id, row.before,
                                               row.after, prev)

    tamper(billing_url, rewrite_legacy)
    with open_billing(billing_url, audit=config) as c:
        bad = c.verify_audit_chain()
    assert bad.broken_seq == legacy.events + 1
    assert "does not point at event" in bad.problem


def test_the_fault_campaign_holds_every_attack(tmp_path: Path) -> None:
    outcomes = run_audit_campaign(tmp_path)
    assert [o.attack for o in outcomes] == list(ATTACKS)
    assert [o.attack for o in outcomes if not o.held] == []
    assert all(o.problem for o in outcomes)


def test_a_torn_last_checkpoint_line_is_a_note_and_a_lost_anchor_never_fails_a_sale(
        site: Site, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    anchor = tmp_path / "anchor.jsonl"
    with anchor.open("a") as f:
        f.write('{"seq": 99, "hash": "ab')  # a writer killed mid-line
    report = site.verify()
    assert report.ok and any("torn last line" in n for n in report.notes)
    unwritable = AuditConfig(site.config.key, tmp_path / "no-such-dir" / "anchor.jsonl")
    with site.open(unwritable) as c:
        c.register_station("DESK-3")  # committed, though its checkpoint cannot be written
        assert "DESK-3" in [x.code for x in c.stations()]
        assert "holds no checkpoint" in c.verify_audit_chain().problem
    assert "cannot write an audit checkpoint" in caplog.text
