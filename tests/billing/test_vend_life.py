"""Vend life on a real SQLite file: tariffs in the centre, debts, free issue, reversal,
reprint, lost-card replacement, queued parameters, the audit chain, concurrent stations."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.exc import DBAPIError

from rig.billing import (
    BillingCentre,
    Block,
    CardStatus,
    Conflict,
    CreditUnit,
    PermissionDenied,
    ReadbackData,
    Tax,
    VendRefused,
    VendStatus,
    open_billing,
)
from rig.errors import BillingError
from tests.billing.ledger import ingest

T0 = datetime(2024, 3, 1, tzinfo=UTC)
METER = "000000000042"


class Clock:
    def __init__(self) -> None:
        self.now = T0 + timedelta(days=1, hours=9)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db(billing_url) -> str:
    return billing_url


@pytest.fixture
def centre(db, clock):
    c = open_billing(db, clock=clock)
    c.register_station("DESK-1")
    c.register_operator("carol", "cashier")
    c.register_operator("sam", "supervisor")
    yield c
    c.close()


def add_meter(c: BillingCentre, meter_no: str = METER, tariff: str = "RES",
              unit: CreditUnit = CreditUnit.ENERGY_WH, card: str | None = None) -> None:
    c.register_customer("Ada", f"ACC-{meter_no}")
    c.register_meter(meter_no, customer_account=f"ACC-{meter_no}", profile="p",
                     credit_unit=unit, tariff_code=tariff, key_revision=1,
                     commissioning_energy_wh=0, commissioned_at=T0)
    c.issue_card(meter_no, card or f"CARD-{meter_no}")


def buy(c: BillingCentre, amount: str, rid: str, meter_no: str = METER, operator: str = "carol"):
    return c.vend(meter_no, Decimal(amount), request_id=rid, station="DESK-1", operator=operator)


def confirm(c: BillingCentre, meter_no: str, seq: int) -> None:
    """A readback showing purchases up to ``seq`` applied (figures need not balance here)."""
    ingest(c, ReadbackData(
        meter_no=meter_no, energy_wh=0, remaining=0, overdraft=0, purchase_count=seq,
        last_sequence=seq, cumulative_purchase=0, credit_unit=CreditUnit.ENERGY_WH,
        relay_open=False, alarm_active=False, alarm_count=0, cutoff_count=0, tamper_count=0,
        power_down_count=0, timestamp=T0, tariff_version=1))


def test_block_tariff_uses_energy_vended_this_month(centre, clock) -> None:
    centre.create_tariff("RES", Decimal("0.1000"), T0, kind="block",
                         blocks=(Block(50_000, Decimal("0.1000")), Block(None, Decimal("0.2000"))))
    add_meter(centre)
    first = buy(centre, "4.00", "r1")
    assert first.credit == 40_000
    confirm(centre, METER, 1)
    second = buy(centre, "3.00", "r2")  # 10 kWh left at 0.10 = 1.00, then 2.00 / 0.20 = 10 kWh
    assert second.credit == 20_000
    confirm(centre, METER, 2)
    clock.now = datetime(2024, 4, 1, 0, 0, 1, tzinfo=UTC)  # new billing month: block 1 again
    assert buy(centre, "1.00", "r3").credit == 10_000


def test_fixed_charge_vat_debt_and_change_carry(centre) -> None:
    centre.create_tariff("RES", Decimal("0.1537"), T0, fixed_monthly=Decimal("5.00"),
                         taxes=(Tax("VAT", Decimal("15")),))
    add_meter(centre)
    centre.add_debt(METER, Decimal("4.00"), "arrears", recovery_percent=Decimal("10"))
    v1 = buy(centre, "20.00", "r1")
    labels = [line.label for line in v1.receipt]
    assert labels[:2] == ["debt", "fixed"] and "tax" in labels
    assert sum(line.amount for line in v1.receipt) == Decimal("20.00")
    assert centre.debts(METER)[0].outstanding == Decimal("2.00")
    change = next(line.amount for line in v1.receipt if line.label == "change_out")
    confirm(centre, METER, 1)
    v2 = buy(centre, "20.00", "r2")
    assert v2.receipt[0].label == "change_in" and v2.receipt[0].amount == -change
    assert "fixed" not in [line.label for line in v2.receipt]  # paid for this month already
    assert sum(line.amount for line in v2.receipt) == Decimal("20.00")


def test_money_meter_refuses_block_tariff(centre) -> None:
    centre.create_tariff("BLK", Decimal("0.1"), T0, kind="block",
                         blocks=(Block(None, Decimal("0.1")),))
    add_meter(centre, tariff="BLK", unit=CreditUnit.MONEY_CENTS)
    with pytest.raises(VendRefused) as e:
        buy(centre, "10.00", "r1")
    assert e.value.reason == "tariff_unusable" and "energy-credit meter" in str(e.value)


def test_cashier_cannot_change_tariffs_or_reverse(centre) -> None:
    with pytest.raises(PermissionDenied, match="cashier"):
        centre.create_tariff("RES", Decimal("0.15"), T0, actor="carol")
    centre.create_tariff("RES", Decimal("0.15"), T0, actor="sam")
    add_meter(centre)
    v = buy(centre, "10.00", "r1")
    with pytest.raises(PermissionDenied):
        centre.reverse_vend(v.vend_id, operator="carol", reason="mistake")


def test_reversal_restores_debt_and_change_and_keeps_sequence(centre) -> None:
    centre.create_tariff("RES", Decimal("0.1537"), T0, taxes=(Tax("VAT", Decimal("15")),))
    add_meter(centre)
    centre.add_debt(METER, Decimal("9.00"), "arrears", recovery_fixed=Decimal("2.00"))
    v1 = buy(centre, "10.00", "r1")
    change1 = next(x.amount for x in v1.receipt if x.label == "change_out")
    assert change1 > 0
    confirm(centre, METER, 1)
    with pytest.raises(Conflict, match="confirmed"):
        centre.reverse_vend(v1.vend_id, operator="sam", reason="x")
    v2 = buy(centre, "10.00", "r2")
    assert centre.debts(METER)[0].outstanding == Decimal("5.00")
    r = centre.reverse_vend(v2.vend_id, operator="sam", reason="customer changed mind")
    assert r.status is VendStatus.REVERSED
    assert centre.debts(METER)[0].outstanding == Decimal("7.00")
    v3 = buy(centre, "10.00", "r3")  # unapplied block lifted; sequence 2 is never reused
    assert v3.sequence == 3
    assert v3.receipt[0].label == "change_in"  # change from v1, not from the reversed v2
    assert v3.receipt[0].amount == -change1
    with pytest.raises(BillingError, match="reversed"):
        centre.mark_written(v2.vend_id)


def test_free_issue_needs_supervisor_and_is_not_a_sale(centre, clock) -> None:
    centre.create_tariff("RES", Decimal("0.15"), T0)
    add_meter(centre)
    with pytest.raises(PermissionDenied):
        centre.free_issue(METER, 5_000, request_id="f1", station="DESK-1", operator="carol",
                          reason="storm")
    f = centre.free_issue(METER, 5_000, request_id="f1", station="DESK-1", operator="sam",
                          reason="storm compensation")
    assert (f.kind, f.amount, f.credit, f.sequence) == ("free", Decimal("0.00"), 5_000, 1)
    assert centre.daily_sales(clock.now.date()).vend_count == 1  # counted, but amount 0
    assert centre.daily_sales(clock.now.date()).total_amount == 0


def test_lost_card_replacement_keeps_sequence_and_moves_pending_vend(centre) -> None:
    centre.create_tariff("RES", Decimal("0.15"), T0)
    add_meter(centre, card="OLD")
    v = buy(centre, "10.00", "r1")
    centre.mark_written(v.vend_id)
    card, rewrite = centre.replace_card(METER, "NEW", operator="carol")
    assert card.card_serial == "NEW" and card.status is CardStatus.ACTIVE
    assert [(x.sequence, x.card_serial, x.status) for x in rewrite] == [
        (1, "NEW", VendStatus.CREATED)]
    confirm(centre, METER, 1)
    assert buy(centre, "10.00", "r2").sequence == 2
    retired = [e for e in centre.audit_log("card") if e.action == "card.retire"]
    assert retired[0].after["card_serial"] == "OLD" and retired[0].after["status"] == "lost"


def test_parameters_queue_for_the_next_card_write(centre) -> None:
    centre.create_tariff("RES", Decimal("0.15"), T0)
    add_meter(centre)
    with pytest.raises(PermissionDenied):
        centre.queue_parameters(METER, operator="carol", alarm1=500)
    centre.queue_parameters(METER, operator="sam", alarm1=500, alarm2=100)
    centre.queue_parameters(METER, operator="sam", alarm2=200)
    assert centre.pending_parameters(METER) == {"alarm1": 500, "alarm2": 200}
    v = buy(centre, "10.00", "r1")
    assert v.parameters == {"alarm1": 500, "alarm2": 200}
    centre.mark_written(v.vend_id)
    assert centre.pending_parameters(METER) is None
    # A station rewriting a torn card replays the vend: the levels written with it come too.
    assert buy(centre, "10.00", "r1").parameters == {"alarm1": 500, "alarm2": 200}


def test_a_reversed_vend_gives_back_the_parameters_it_carried(centre) -> None:
    centre.create_tariff("RES", Decimal("0.15"), T0)
    add_meter(centre)
    centre.queue_parameters(METER, operator="sam", alarm1=500, alarm2=200)
    v = buy(centre, "10.00", "r1")
    centre.mark_written(v.vend_id)
    assert centre.pending_parameters(METER) is None
    centre.reverse_vend(v.vend_id, operator="sam", reason="card destroyed at the desk")
    assert centre.pending_parameters(METER) == {"alarm1": 500, "alarm2": 200}
    assert buy(centre, "10.00", "r2").parameters == {"alarm1": 500, "alarm2": 200}


def test_queued_levels_that_would_put_alarm2_above_alarm1_are_refused(centre) -> None:
    centre.create_tariff("RES", Decimal("0.15"), T0)
    add_meter(centre)
    centre.queue_parameters(METER, operator="sam", alarm1=500)
    with pytest.raises(BillingError, match="alarm2 600 would be above alarm1 500"):
        centre.queue_parameters(METER, operator="sam", alarm2=600)
    assert centre.pending_parameters(METER) == {"alarm1": 500}


def test_reprint_is_marked_and_counted(centre) -> None:
    centre.create_tariff("RES", Decimal("0.15"), T0)
    add_meter(centre)
    v = buy(centre, "10.00", "r1")
    text = centre.reprint(v.vend_id, operator="carol")
    assert "REPRINT 1" in text and "10.00" in text and METER in text
    assert "REPRINT 2" in centre.reprint(v.vend_id, operator="carol")


def drop_append_only_guard(conn: Connection) -> None:
    """What someone with the database's owner rights can do: switch the triggers off."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
    else:
        conn.execute(text("DROP TRIGGER audit_events_no_update"))
        conn.execute(text("DROP TRIGGER audit_events_no_delete"))


def test_audit_chain_names_the_tampered_row(centre, db) -> None:
    centre.create_tariff("RES", Decimal("0.15"), T0)
    add_meter(centre)
    v = buy(centre, "10.00", "r1")
    centre.reverse_vend(v.vend_id, operator="sam", reason="test")
    report = centre.verify_audit_chain()
    assert report.ok and report.events >= 8
    log = centre.audit_log("vend")
    assert [e.action for e in log] == ["vend.create", "vend.reverse"]
    assert log[1].actor == "sam" and log[1].before["status"] == "created"
    assert log[1].after["status"] == "reversed"
    target = log[0].seq
    raw = create_engine(db)
    with pytest.raises(DBAPIError, match="append-only"), raw.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = :s"),
                     {"s": target})
    # Someone with database rights drops the guard and edits the vend event's amount.
    with raw.begin() as conn:
        drop_append_only_guard(conn)
        after = "replace(after, '10.00', '1.00')"
        if conn.dialect.name == "postgresql":
            after = "replace(after::text, '10.00', '1.00')::json"
        conn.execute(text(f"UPDATE audit_events SET after = {after} WHERE seq = :s"),
                     {"s": target})
    raw.dispose()
    bad = centre.verify_audit_chain()
    assert not bad.ok and bad.broken_seq == target
    assert f"event {target} (vend.create vend {v.vend_id}) was altered" in bad.problem


def test_audit_chain_names_a_deleted_row(centre, db) -> None:
    centre.create_tariff("RES", Decimal("0.15"), T0)
    raw = create_engine(db)
    with raw.begin() as conn:
        drop_append_only_guard(conn)
        conn.execute(text("DELETE FROM audit_events WHERE seq = 2"))
    raw.dispose()
    bad = centre.verify_audit_chain()
    assert bad.broken_seq == 2 and "missing" in bad.problem


def test_concurrent_stations_never_duplicate_or_skip_a_sequence(centre, db, clock) -> None:
    """Four stations, each its own engine and connections, vend for the same three meters."""
    centre.create_tariff("RES", Decimal("0.15"), T0)
    meters = [f"{i:012d}" for i in (101, 102, 103)]
    for no in meters:
        add_meter(centre, no)
    for k in range(4):
        centre.register_station(f"S{k}")
    errors: list[BaseException] = []
    sold: list[tuple[str, int]] = []
    lock = threading.Lock()

    def station(k: int) -> None:
        c = open_billing(db, clock=clock)
        try:
            for i in range(15):
                no = meters[(i + k) % 3]
                try:
                    v = c.vend(no, Decimal("5.00"), request_id=f"S{k}-{i}", station=f"S{k}",
                               operator="carol")
                except VendRefused as e:
                    assert e.reason == "unapplied_purchase"
                    confirm(c, no, c.meter(no).last_sequence)
                    continue
                with lock:
                    sold.append((no, v.sequence))
        except BaseException as e:
            errors.append(e)
        finally:
            c.close()

    threads = [threading.Thread(target=station, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sold
    for no in meters:
        seqs = [v.sequence for v in centre.vends_for_meter(no)]
        assert seqs == list(range(1, len(seqs) + 1))
        assert sorted(s for m_, s in sold if m_ == no) == seqs
        assert centre.meter(no).last_sequence == len(seqs)
    assert centre.verify_audit_chain().ok
