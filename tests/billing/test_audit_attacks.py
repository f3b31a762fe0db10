"""Attacks on the audit trail, performed on a real database (SQLite file and PostgreSQL).

Someone with the database owner's rights — but not the centre's audit key, nor write access
to its anchor file — switches the append-only triggers off and then: cuts the newest events,
empties the log, edits an event and re-computes the chain with the public ``event_hash``, or
edits the ledger tables the events describe. ``verify`` must say which, every time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, select, text
from sqlalchemy.orm import Session

from rig.billing import BillingCentre, CreditUnit, ReadbackData, audit, open_billing
from rig.billing import models as m
from rig.billing.audit import AuditKeyMismatch
from rig.billing.audit_key import AuditConfig, AuditKey
from rig.billing.bank import import_statement

T0 = datetime(2024, 3, 1, tzinfo=UTC)
METER, METER2 = "000000000042", "000000000043"


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


def drop_append_only_guard(conn: Connection) -> None:
    """What the database owner can do: switch the append-only triggers off."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
    else:
        conn.execute(text("DROP TRIGGER IF EXISTS audit_events_no_update"))
        conn.execute(text("DROP TRIGGER IF EXISTS audit_events_no_delete"))


def tamper(url: str, change: Callable[[Session], None]) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            drop_append_only_guard(conn)
        with Session(engine) as s, s.begin():
            change(s)
    finally:
        engine.dispose()


def populate(c: BillingCentre, tmp: Path) -> None:
    """A day of business: sales, an agent's float, a debt, a bank payment, a reversal."""
    c.register_station("DESK-1")
    c.register_station("SHOP-7")
    c.register_operator("carol", "cashier")
    c.register_operator("sam", "supervisor")
    c.create_tariff("RES", Decimal("0.1500"), T0)
    for no in (METER, METER2):
        c.register_customer("Ada", f"ACC-{no}")
        c.register_meter(no, customer_account=f"ACC-{no}", profile="p",
                         credit_unit=CreditUnit.ENERGY_WH, tariff_code="RES", key_revision=1,
                         commissioning_energy_wh=0, commissioned_at=T0)
        c.issue_card(no, f"CARD-{no}")
    c.register_agent("Corner Shop", Decimal("50.00"))
    c.assign_agent_station("Corner Shop", "SHOP-7")
    c.top_up_agent("Corner Shop", Decimal("200.00"), actor="sam", reference="cash in")
    c.add_debt(METER2, Decimal("30.00"), "old arrears", recovery_percent=Decimal("10"))
    first = c.vend(METER, Decimal("20.00"), request_id="r1", station="DESK-1", operator="carol")
    c.mark_written(first.vend_id)
    c.ingest_readback(ReadbackData(
        meter_no=METER, energy_wh=0, remaining=0, overdraft=0, purchase_count=1,
        last_sequence=1, cumulative_purchase=first.credit, credit_unit=CreditUnit.ENERGY_WH,
        relay_open=False, alarm_active=False, alarm_count=0, cutoff_count=0, tamper_count=0,
        power_down_count=0, timestamp=T0 + timedelta(days=1), tariff_version=1,
        mac_verified=True))
    c.vend(METER, Decimal("10.00"), request_id="r2", station="DESK-1", operator="carol")
    shop = c.vend(METER2, Decimal("40.00"), request_id="r3", station="SHOP-7", operator="carol")
    c.reverse_vend(shop.vend_id, operator="sam", reason="customer changed mind")
    c.vend(METER2, Decimal("15.00"), request_id="r4", station="SHOP-7", operator="carol")
    statement = tmp / "statement.csv"
    statement.write_text("entry_ref,booking_date,amount,currency,reference\n"
                         f"BANK-1,2024-03-05,12.00,EUR,{METER}\n")
    import_statement(c, statement)


@pytest.fixture
def site(billing_url: str, tmp_path: Path) -> Iterator[Site]:
    key = AuditKey.generate()
    key.write(tmp_path / "audit.key")
    config = AuditConfig(AuditKey.from_file(tmp_path / "audit.key"), tmp_path / "anchor.jsonl")
    with open_billing(billing_url, audit=config) as c:
        populate(c, tmp_path)
    yield Site(billing_url, config, (tmp_path / "audit.key").read_text().strip())


def events(s: Session) -> list[m.AuditEvent]:
    return list(s.scalars(select(m.AuditEvent).order_by(m.AuditEvent.seq)))


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
    def cut(s: Session) -> None:
        s.execute(text("DELETE FROM audit_events WHERE seq > (SELECT max(seq) - 3 "
                       "FROM audit_events)"))

    head = site.verify().events
    tamper(site.url, cut)
    report = site.verify()
    assert not report.ok
    assert any(f"names event {head}, but the chain ends at event {head - 3}" in p
               for p in report.problems), report.problems


def test_deleting_every_event_is_detected(site: Site) -> None:
    tamper(site.url, lambda s: s.execute(text("DELETE FROM audit_events")))
    report = site.verify()
    assert not report.ok and report.events == 0
    assert any("but the chain ends at event 0" in p for p in report.problems)
    assert any("vends row" in p and "is not in the audit log" in p for p in report.problems)


def test_an_edit_rehashed_with_the_public_function_is_detected(site: Site) -> None:
    """Raise the first sale's amount in its event and its row, then re-compute every hash
    after it with ``event_hash`` — once keeping the key ids, once posing as a legacy chain."""
    for as_legacy in (False, True):
        def rewrite(s: Session, as_legacy: bool = as_legacy) -> None:
            prev = audit.GENESIS
            for row in events(s):
                if row.action == "vend.create" and row.after["request_id"] == "r1":
                    row.after = {**row.after, "amount": "2000.00"}
                    s.execute(text("UPDATE vends SET amount = amount * 100 WHERE request_id = "
                                   "'r1'"))
                if as_legacy:
                    row.key_id = None
                row.prev_hash = prev
                row.hash = prev = audit.event_hash(row.seq, row.at, row.actor, row.action,
                                                   row.entity, row.entity_id, row.before,
                                                   row.after, prev)

        tamper(site.url, rewrite)
        report = site.verify()
        assert not report.ok
        if as_legacy:  # a consistent legacy chain: only the checkpoints tell
            assert any("is not the one checkpointed" in p for p in report.problems)
        else:
            assert "was altered: its content no longer matches its MAC" in report.problem


LEDGER_EDITS: dict[str, tuple[str, str]] = {
    "vend amount": ("UPDATE vends SET amount = amount * 10 WHERE request_id = 'r2'",
                    "amount is 100.00 in the ledger, 10.00 in the audit log"),
    "vend reversed by hand": ("UPDATE vends SET status = 'reversed' WHERE request_id = 'r2'",
                              "status is reversed in the ledger, created in the audit log"),
    "vend deleted": ("DELETE FROM vends WHERE request_id = 'r2'",
                     "is in the audit log but not in the ledger (deleted)"),
    "agent top-up inserted": (
        "INSERT INTO agent_entries (agent_id, kind, amount, reference, actor, at) "
        "SELECT agent_id, kind, amount * 5, 'x', actor, at FROM agent_entries "
        "WHERE kind = 'topup'",
        "(topup 1000.00) is not in the audit log"),
    "agent draw altered": ("UPDATE agent_entries SET amount = 0 WHERE kind = 'vend' AND "
                           "amount = -1500",
                           "amount is 0.00 in the ledger, -15.00 in the audit log"),
    "tariff price": ("UPDATE tariffs SET price_per_kwh = price_per_kwh / 3",
                     "price per kWh is 0.0500 in the ledger, 0.1500 in the audit log"),
    "debt written off": ("UPDATE debts SET outstanding = 0",
                         "outstanding is 0.00 in the ledger, 28.50 in the audit log"),
    "bank payment inflated": ("UPDATE bank_payments SET amount = amount * 10",
                              "amount is 120.00 in the ledger, 12.00 in the audit log"),
}


@pytest.mark.parametrize("edit", list(LEDGER_EDITS))
def test_ledger_edits_are_reported_row_by_row(site: Site, edit: str) -> None:
    statement, expected = LEDGER_EDITS[edit]
    assert site.verify().ok
    tamper(site.url, lambda s: s.execute(text(statement)))
    report = site.verify()
    assert not report.ok and report.broken_seq is None  # the chain itself holds
    assert any(expected in p for p in report.problems), report.problems


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
