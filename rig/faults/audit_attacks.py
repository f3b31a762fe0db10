"""Attacks on the billing centre's audit trail, for tests and ``bench/faults.py``.

The attacker has the database owner's rights (switches the append-only triggers off, edits any
table) but neither the centre's audit key nor write access to its anchor file. Each attack
runs on a freshly populated database; it is *held* when ``verify`` reports it (docs/faults.md,
"Audit attacks").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Connection, create_engine, select, text
from sqlalchemy.orm import Session

from rig.billing import BillingCentre, ReadbackData, audit, open_billing
from rig.billing import models as m
from rig.billing.audit_key import AuditConfig, AuditKey
from rig.billing.bank import import_statement
from rig.billing.currency import set_centre_currency
from rig.credit_unit import CreditUnit
from rig.sim.meter_readback import meter_readback

T0 = datetime(2024, 3, 1, tzinfo=UTC)
METER, METER2 = "000000000042", "000000000043"


def drop_append_only_guard(conn: Connection) -> None:
    """What the database owner can do: switch the append-only triggers off."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
    else:
        conn.execute(text("DROP TRIGGER IF EXISTS audit_events_no_update"))
        conn.execute(text("DROP TRIGGER IF EXISTS audit_events_no_delete"))


def tamper(url: str, change: Callable[[Session], object]) -> None:
    """Run ``change`` on the database behind the centre's back, guard switched off."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            drop_append_only_guard(conn)
        with Session(engine) as s, s.begin():
            change(s)
    finally:
        engine.dispose()


def populate(c: BillingCentre, workdir: Path) -> None:
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
    applied = ReadbackData(
        meter_no=METER, energy_wh=0, remaining=0, overdraft=0, purchase_count=1,
        last_sequence=1, cumulative_purchase=first.credit, credit_unit=CreditUnit.ENERGY_WH,
        relay_open=False, alarm_active=False, alarm_count=0, cutoff_count=0, tamper_count=0,
        power_down_count=0, timestamp=T0 + timedelta(days=1), tariff_version=1)
    # As the meter wrote it: the raw record under its readback key, which the centre verifies.
    c.ingest_readback(applied, raw=meter_readback(applied, key_revision=1))
    c.vend(METER, Decimal("10.00"), request_id="r2", station="DESK-1", operator="carol")
    shop = c.vend(METER2, Decimal("40.00"), request_id="r3", station="SHOP-7", operator="carol")
    c.reverse_vend(shop.vend_id, operator="sam", reason="customer changed mind")
    c.vend(METER2, Decimal("15.00"), request_id="r4", station="SHOP-7", operator="carol")
    set_centre_currency(c, "EUR")
    statement = workdir / "statement.csv"
    statement.write_text("entry_ref,booking_date,amount,currency,reference\n"
                         f"BANK-1,2024-03-05,12.00,EUR,{METER}\n")
    import_statement(c, statement)


def events(s: Session) -> list[m.AuditEvent]:
    return list(s.scalars(select(m.AuditEvent).order_by(m.AuditEvent.seq)))


def rehash(s: Session, *, as_legacy: bool) -> None:
    """Raise the first sale's amount in its event and its row, then re-compute every hash with
    the public ``event_hash`` (keeping the key ids, or posing as a legacy chain)."""
    prev = audit.GENESIS
    for row in events(s):
        after = row.after or {}
        if row.action == "vend.create" and after.get("request_id") == "r1":
            row.after = {**after, "amount": "2000.00"}
            s.execute(text("UPDATE vends SET amount = amount * 100 WHERE request_id = 'r1'"))
        if as_legacy:
            row.key_id = None
        row.prev_hash = prev
        row.hash = prev = audit.event_hash(row.seq, row.at, row.actor, row.action, row.entity,
                                           row.entity_id, row.before, row.after, prev)


def _sql(statement: str) -> Callable[[Session], object]:
    return lambda s: s.execute(text(statement))


# name -> what the attacker does
ATTACKS: dict[str, Callable[[Session], object]] = {
    "truncate_tail": _sql("DELETE FROM audit_events WHERE seq > (SELECT max(seq) - 3 "
                          "FROM audit_events)"),
    "delete_all": _sql("DELETE FROM audit_events"),
    "rehash_keyed": lambda s: rehash(s, as_legacy=False),
    "rehash_as_legacy": lambda s: rehash(s, as_legacy=True),
    "vend_amount": _sql("UPDATE vends SET amount = amount * 10 WHERE request_id = 'r2'"),
    "vend_reversed_by_hand": _sql("UPDATE vends SET status = 'reversed' WHERE request_id = "
                                  "'r2'"),
    "vend_deleted": _sql("DELETE FROM vends WHERE request_id = 'r2'"),
    "agent_topup_inserted": _sql(
        "INSERT INTO agent_entries (agent_id, kind, amount, reference, actor, at) "
        "SELECT agent_id, kind, amount * 5, 'x', actor, at FROM agent_entries "
        "WHERE kind = 'topup'"),
    "agent_draw_altered": _sql("UPDATE agent_entries SET amount = 0 WHERE kind = 'vend' AND "
                               "amount = -1500"),
    "tariff_price": _sql("UPDATE tariffs SET price_per_kwh = price_per_kwh / 3"),
    "debt_written_off": _sql("UPDATE debts SET outstanding = 0"),
    "bank_payment_inflated": _sql("UPDATE bank_payments SET amount = amount * 10"),
}


@dataclass(frozen=True)
class Outcome:
    attack: str
    held: bool  # verify reported it
    problem: str  # the first problem verify named ("" if it did not hold)


def run_attack(url: str, workdir: Path, attack: str) -> Outcome:
    """Populate ``url`` (an empty database) with a keyed, anchored centre, attack it, verify."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = AuditConfig(AuditKey.generate(), workdir / "anchor.jsonl")
    with open_billing(url, audit=config) as c:
        populate(c, workdir)
        if not c.verify_audit_chain().ok:
            raise AssertionError(f"the untouched ledger did not verify before {attack}")
    tamper(url, ATTACKS[attack])
    with open_billing(url, audit=config) as c:
        report = c.verify_audit_chain()
    return Outcome(attack, not report.ok, report.problem)


def run_audit_campaign(workdir: Path) -> list[Outcome]:
    """Every attack, each on its own fresh SQLite file under ``workdir``."""
    return [run_attack(f"sqlite:///{workdir / name / 'billing.sqlite'}", workdir / name, name)
            for name in ATTACKS]
