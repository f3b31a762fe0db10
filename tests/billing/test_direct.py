"""Direct transactions (the sale's hot path) store and read exactly what the ORM does, fail the
way the ORM does, and leave nothing behind when they fail or hand a sale over to the ORM."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import bindparam, event, insert, select
from sqlalchemy.exc import IntegrityError

from rig.billing import BillingCentre, VendRefused, VendResult, open_billing
from rig.billing import models as m
from rig.billing.centre.sales import context, direct
from rig.billing.centre.sales.direct import Direct, Prepared
from tests.billing.ledger import T0, add_meter, buy

METER, OTHER = "000077770001", "000077770002"
_READ_VEND = select(m.Vend.amount, m.Vend.price_per_kwh, m.Vend.created_at, m.Vend.receipt,
                    m.Vend.status).where(m.Vend.request_id == bindparam("request_id"))


@pytest.fixture
def centre(billing_url: str) -> Iterator[BillingCentre]:
    c = open_billing(billing_url, clock=lambda: T0 + timedelta(days=3, hours=10))
    c.register_station("DESK-1")
    c.register_operator("carol", "cashier")
    c.register_operator("sam", "supervisor")
    c.create_tariff("RES", Decimal("0.1537"), T0)
    add_meter(c, METER)
    add_meter(c, OTHER)
    yield c
    c.close()


def sell(c: BillingCentre, request_id: str, amount: str = "12.34",
         meter_no: str = METER) -> VendResult:
    return buy(c, meter_no, amount, request_id)


def test_direct_reads_convert_like_the_orm(centre: BillingCentre) -> None:
    sell(centre, "r1")
    with centre.engine.connect() as conn:
        orm = conn.execute(_READ_VEND, {"request_id": "r1"}).one()._asdict()
    with Direct(centre.engine).transaction() as tx:
        got = tx.one(_READ_VEND, {"request_id": "r1"})
    assert got == orm
    assert got is not None and got["amount"] == Decimal("12.34")
    assert got["created_at"] == T0 + timedelta(days=3, hours=10)  # aware UTC, as stored
    assert got["receipt"][0]["label"] == "credit"  # JSON decoded


def test_constant_binds_are_filled_in_and_expanding_in_is_refused(
        centre: BillingCentre) -> None:
    statement = select(m.Vend.id).where(m.Vend.status == "created",
                                        m.Vend.request_id == bindparam("request_id"))
    prepared = Prepared(statement, centre.engine.dialect)
    values = prepared.parameters({"request_id": "r9"})
    assert "created" in (values.values() if isinstance(values, dict) else values)
    with pytest.raises(ValueError, match="expanding IN"):
        Prepared(select(m.Vend.id).where(m.Vend.status.in_(["created", "written"])),
                 centre.engine.dialect)


def test_a_driver_error_is_sqlalchemys_and_rolls_the_transaction_back(
        centre: BillingCentre) -> None:
    first = sell(centre, "r1")
    stations_before = [x.code for x in centre.stations()]
    station = insert(m.Station).values(code=bindparam("code"))
    with pytest.raises(IntegrityError) as failed, Direct(centre.engine).transaction() as tx:
        tx.execute(station, {"code": "DESK-2"})
        assert tx.one(_READ_VEND, {"request_id": "r1"}) is not None
        tx.execute(station, {"code": "DESK-1"})  # registered already: unique code refused
    assert "INSERT INTO stations" in str(failed.value)  # names the statement that failed
    assert [x.code for x in centre.stations()] == stations_before  # DESK-2 went with it
    assert centre.vend_by_id(first.vend_id) == first


def test_an_exception_in_the_block_rolls_back(centre: BillingCentre) -> None:
    station = insert(m.Station).values(code=bindparam("code"))
    before = len(centre.stations())
    with pytest.raises(RuntimeError), Direct(centre.engine).transaction() as tx:
        tx.execute(station, {"code": "DESK-3"})
        raise RuntimeError("operator pulled the plug")
    assert len(centre.stations()) == before


def test_observers_see_every_statement_and_both_sides_of_the_commit(
        centre: BillingCentre) -> None:
    sell(centre, "warm-up", meter_no=OTHER)  # a tariff version's first sale reads it by ORM
    seen: list[int] = []
    direct.observe(centre.engine, lambda: seen.append(1))
    sell(centre, "r2")
    # the context, the meter's sequence, the vend, its audit event, before and after commit;
    # PostgreSQL also locks the meter row, takes the chain's lock and reads its head
    assert len(seen) == (9 if centre.engine.dialect.name == "postgresql" else 6)


def test_a_sale_handed_to_the_orm_leaves_nothing_from_its_direct_attempt(
        centre: BillingCentre) -> None:
    centre.add_debt(METER, Decimal("3.00"), "arrears", recovery_percent=Decimal("50"))
    v = sell(centre, "r1", "10.00")  # debts need the ORM: the direct attempt hands over
    vends = centre.vends_for_meter(METER)
    assert [x.vend_id for x in vends] == [v.vend_id]
    assert centre.debts(METER)[0].outstanding == Decimal("0.00")
    assert [e.action for e in centre.audit_log("vend")] == ["vend.create"]
    assert centre.verify_audit_chain().ok


def test_a_refusal_on_the_direct_path_writes_nothing(centre: BillingCentre) -> None:
    sell(centre, "warm-up")
    with pytest.raises(VendRefused) as refused:
        sell(centre, "r2")  # the card still carries purchase #1
    assert refused.value.reason == "unapplied_purchase"
    with pytest.raises(VendRefused) as refused:
        centre.vend(METER, Decimal("5.00"), request_id="r3", station="NO-SUCH-DESK",
                    operator="carol")
    assert len(centre.vends_for_meter(METER)) == 1
    assert centre.verify_audit_chain().ok


def test_a_bind_used_in_several_places_gets_its_value_in_each(centre: BillingCentre) -> None:
    # The sale's context names the station three times and the operator twice, and binds two
    # instants: read directly, it is the row SQLAlchemy's own execution reads.
    sell(centre, "r1")
    statement = context._statement(centre.engine.dialect.name == "sqlite")
    values = {"meter_no": METER, "request_id": "r1", "station": "DESK-1",
              "operator": "carol", "now": T0 + timedelta(days=3, hours=10),
              "month_start": T0 + timedelta(days=3)}
    with centre.engine.connect() as conn:
        orm = conn.execute(statement, values).one()._asdict()
    with Direct(centre.engine).transaction() as tx:
        got = tx.one(statement, values)
    assert got == orm
    assert got is not None and got["station_id"] is not None
    assert got["operator_id"] is not None and got["existing_vend_id"] is not None
    assert got["month_credit"] > 0  # the month's start bound where it belongs


def test_sqlite_sales_in_a_row_keep_one_connection_and_close_leaves_none_open(
        billing_url: str) -> None:
    if not billing_url.startswith("sqlite"):
        pytest.skip("the connection is kept between sales on SQLite only")
    c = open_billing(billing_url, clock=lambda: T0 + timedelta(days=3, hours=10))
    opened, closed, checkouts = [], [], []
    event.listen(c.engine, "connect", lambda dbapi, rec: opened.append(dbapi))
    event.listen(c.engine, "close", lambda dbapi, rec: closed.append(dbapi))
    event.listen(c.engine, "checkout", lambda dbapi, rec, proxy: checkouts.append(dbapi))
    c.register_station("DESK-1")
    c.register_operator("carol", "cashier")
    c.create_tariff("RES", Decimal("0.1537"), T0)
    add_meter(c, METER)
    add_meter(c, OTHER)
    add_meter(c, "000077770003")
    sell(c, "r1")  # the first sales read the tariff and the audit head through the ORM
    sell(c, "r2", meter_no=OTHER)
    before = len(checkouts)
    third = sell(c, "r3", meter_no="000077770003")
    assert len(checkouts) == before  # the first sale's connection, kept: no pool round trip
    with c.engine.connect() as conn:  # another connection sees what the kept one committed
        seen = conn.execute(_READ_VEND, {"request_id": "r3"}).one()
    assert seen.amount == Decimal("12.34") and third.sequence == 1
    c.close()
    assert opened and sorted(map(id, closed)) == sorted(map(id, opened))  # none left open


def test_the_sale_context_holds_each_read_column_under_its_own_name() -> None:
    # fetch builds the context positionally (fast): a field out of order must not go unseen
    plain = [f for f in context.VendContext._fields
             if f not in ("has_agent", "has_debts", "has_parameters", "is_sts", "audit_head")]
    flags = ("has_agent", "has_debts", "has_parameters")
    for raised in (None, *flags):
        row: dict[str, Any] = {name: 1000 + i for i, name in enumerate(plain)}
        row.update({flag: int(flag == raised) for flag in flags})
        row.update(audit_seq=7, audit_hash="h", audit_key_id="k")
        ctx = context.fetch(lambda statement, values, row=row: dict(row), meter_no="m",
                            request_id="r", station="s", operator="o", now=T0, month_start=T0,
                            with_audit_head=True)
        assert ctx is not None
        assert {f: getattr(ctx, f) for f in plain} == {f: row[f] for f in plain}
        assert [f for f in flags if getattr(ctx, f) is True] == ([raised] if raised else [])
        assert ctx.is_sts and ctx.audit_head == (7, "h", "k")


def test_sales_from_several_threads_on_one_centre_each_commit_once(billing_url: str) -> None:
    # the kept connection is taken by one thread at a time: the others use the pool meanwhile
    c = open_billing(billing_url, clock=lambda: T0 + timedelta(days=3, hours=10))
    opened, closed = [], []
    event.listen(c.engine, "connect", lambda dbapi, rec: opened.append(dbapi))
    event.listen(c.engine, "close", lambda dbapi, rec: closed.append(dbapi))
    c.register_station("DESK-1")
    c.register_operator("carol", "cashier")
    c.create_tariff("RES", Decimal("0.1537"), T0)
    meters = [f"0000888800{i:02d}" for i in range(24)]
    for no in meters:
        add_meter(c, no)

    def desk(k: int) -> list[VendResult]:
        return [sell(c, f"t{k}-{no}", meter_no=no) for no in meters[k::4]]

    with ThreadPoolExecutor(4) as pool:
        sold = [v for made in pool.map(desk, range(4)) for v in made]
    assert sorted(v.meter_no for v in sold) == meters
    assert {v.sequence for v in sold} == {1}
    assert len({v.vend_id for v in sold}) == 24
    assert all([v.sequence for v in c.vends_for_meter(no)] == [1] for no in meters)
    assert c.verify_audit_chain().ok
    c.close()
    assert opened and set(map(id, opened)) <= set(map(id, closed))  # none left open
