"""Billing centre services on a temporary SQLite file: the walking skeleton and its refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from rig.billing import (
    BillingCentre,
    CardStatus,
    CreditUnit,
    MeterStatus,
    NotFound,
    ReadbackData,
    VendLimits,
    VendRefused,
    VendStatus,
    Verdict,
    open_billing,
)
from rig.billing import models as m
from rig.billing.readback_keys import ReadbackKeyService
from rig.errors import BillingError
from tests.billing.ledger import genuine, ingest

T0 = datetime(2024, 1, 1, tzinfo=UTC)
METER = "000012345678"
PRICE = Decimal("0.1500")
E0 = 1_000
KEY_ID = ReadbackKeyService.default().key_id  # the lab test readback key


class Clock:
    """Settable clock so tariff effectivity and daily sales are deterministic."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(T0 + timedelta(days=10, hours=9))


@pytest.fixture
def centre(billing_url, clock) -> BillingCentre:
    c = open_billing(billing_url, clock=clock)
    yield c
    c.close()


def setup_meter(
    c: BillingCentre,
    meter_no: str = METER,
    unit: CreditUnit = CreditUnit.MONEY_CENTS,
    card: str = "CARD-1",
    account: str = "ACC-1",
) -> None:
    c.register_customer("Ada Lovelace", account, "1 Bench Road")
    c.create_tariff("RES", PRICE, T0)
    c.register_meter(
        meter_no,
        customer_account=account,
        profile="emulated-1ph",
        credit_unit=unit,
        tariff_code="RES",
        key_revision=3,
        commissioning_energy_wh=E0,
        commissioned_at=T0,
    )
    c.issue_card(meter_no, card)
    c.register_station("DESK-1")
    c.register_operator("carol", "cashier")


def buy(c: BillingCentre, amount: str, rid: str, meter_no: str = METER):
    return c.vend(meter_no, Decimal(amount), request_id=rid, station="DESK-1", operator="carol")


def readback(**over) -> ReadbackData:
    base = dict(
        meter_no=METER,
        energy_wh=E0,
        remaining=0,
        overdraft=0,
        purchase_count=0,
        last_sequence=0,
        cumulative_purchase=0,
        credit_unit=CreditUnit.MONEY_CENTS,
        relay_open=False,
        alarm_active=False,
        alarm_count=0,
        cutoff_count=0,
        tamper_count=0,
        power_down_count=0,
        timestamp=T0 + timedelta(days=10),
        tariff_version=1,
    )
    base.update(over)
    return ReadbackData(**base)


def applied_readback(credit: int, used_wh: int, remaining: int, seq: int = 1, count: int = 1):
    return readback(
        energy_wh=E0 + used_wh,
        remaining=remaining,
        purchase_count=count,
        last_sequence=seq,
        cumulative_purchase=credit,
    )


def failed(result) -> set[str]:
    return {c.name for c in result.checks if not c.passed}


# -- walking skeleton --------------------------------------------------------------------------


def test_skeleton_money_meter_balances(centre: BillingCentre) -> None:
    setup_meter(centre)
    v = buy(centre, "10.00", "req-1")
    assert (v.sequence, v.credit, v.credit_unit, v.status) == (
        1,
        1000,
        CreditUnit.MONEY_CENTS,
        VendStatus.CREATED,
    )
    assert (v.card_serial, v.key_revision, v.tariff_code, v.tariff_version) == (
        "CARD-1",
        3,
        "RES",
        1,
    )
    assert v.price_per_kwh == PRICE and v.amount == Decimal("10.00")
    assert sum(line.amount for line in v.receipt) == v.amount

    centre.mark_written(v.vend_id)
    assert centre.vend_by_id(v.vend_id).status is VendStatus.WRITTEN

    # 2000 Wh at 0.15/kWh = 0.30 → 970 cents left.
    rb = applied_readback(1000, 2000, 970)
    result = centre.ingest_readback(rb, raw=genuine(rb, key_revision=3))
    assert result.evidence["mac"] == {"verified_by_centre": True, "key_id": KEY_ID,
                                      "public_test_key": True}
    assert result.verdict is Verdict.BALANCED, result.failed
    assert result.confirmed_vend_ids == (v.vend_id,)
    assert centre.vend_by_id(v.vend_id).status is VendStatus.CONFIRMED

    latest = centre.latest_reconciliation(METER)
    assert latest is not None and latest.verdict is Verdict.BALANCED
    assert latest.reconciliation_id == result.reconciliation_id

    # next purchase gets the next contiguous sequence
    v2 = buy(centre, "5.00", "req-2")
    assert v2.sequence == 2
    assert [x.sequence for x in centre.vends_for_meter(METER)] == [1, 2]


def test_energy_meter_credit_is_floored_wh(centre: BillingCentre) -> None:
    setup_meter(centre, unit=CreditUnit.ENERGY_WH)
    v = buy(centre, "10.01", "req-e")
    # 10.01 / 0.15 * 1000 = 66733.33… Wh → 66733 Wh
    assert v.credit == 66733 and v.credit_unit is CreditUnit.ENERGY_WH
    assert sum(line.amount for line in v.receipt) == Decimal("10.01")
    centre.mark_written(v.vend_id)
    result = ingest(
        centre,
        readback(
            credit_unit="energy_wh",
            energy_wh=E0 + 5000,
            remaining=66733 - 5000,
            purchase_count=1,
            last_sequence=1,
            cumulative_purchase=66733,
        )
    )
    assert result.verdict is Verdict.BALANCED, result.failed


def test_money_values_are_decimal_from_the_database(centre: BillingCentre) -> None:
    setup_meter(centre)
    buy(centre, "12.34", "req-d")
    with centre.transaction("test") as s:
        vend = s.scalars(select(m.Vend)).one()
        tariff = s.scalars(select(m.Tariff)).one()
        assert isinstance(vend.amount, Decimal) and vend.amount == Decimal("12.34")
        assert isinstance(vend.price_per_kwh, Decimal) and vend.price_per_kwh == PRICE
        assert isinstance(tariff.price_per_kwh, Decimal)
        assert isinstance(vend.credit, int)
    (stored,) = centre.vends_for_meter(METER)
    assert isinstance(stored.amount, Decimal) and isinstance(stored.price_per_kwh, Decimal)
    assert all(isinstance(line.amount, Decimal) for line in stored.receipt)
    assert stored.created_at.tzinfo is not None


def test_sqlite_pragmas_and_reopen(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'b.sqlite'}"
    c = open_billing(url)
    setup_meter(c)
    with c.engine.connect() as conn:
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    c.close()
    again = open_billing(url)  # upgrade on an up-to-date database is a no-op
    assert again.meter(METER).status is MeterStatus.ACTIVE
    again.close()


# -- idempotency -------------------------------------------------------------------------------


def test_vend_is_idempotent_by_request_id(centre: BillingCentre) -> None:
    setup_meter(centre)
    first = buy(centre, "10.00", "req-1")
    again = buy(centre, "10.00", "req-1")
    assert again == first
    centre.mark_written(first.vend_id)
    centre.mark_written(first.vend_id)  # repeating is harmless
    refetched = buy(centre, "10.00", "req-1")  # allowed although the purchase is unapplied
    assert refetched.vend_id == first.vend_id and refetched.status is VendStatus.WRITTEN
    assert len(centre.vends_for_meter(METER)) == 1

    with pytest.raises(VendRefused) as err:
        buy(centre, "11.00", "req-1")
    assert err.value.reason == "request_id_conflict"
    assert len(centre.vends_for_meter(METER)) == 1


# -- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        (Decimal("0"), "amount_not_positive"),
        (Decimal("-5.00"), "amount_not_positive"),
        (Decimal("0.50"), "amount_below_minimum"),
        (Decimal("10000.01"), "amount_above_maximum"),
        (Decimal("10.001"), "amount_invalid"),
        (10.0, "amount_invalid"),
    ],
)
def test_amount_refusals(centre: BillingCentre, amount, reason: str) -> None:
    setup_meter(centre)
    with pytest.raises(VendRefused) as err:
        centre.vend(METER, amount, request_id="r", station="DESK-1", operator="carol")
    assert err.value.reason == reason
    assert str(err.value)
    assert centre.vends_for_meter(METER) == []
    assert centre.meter(METER).last_sequence == 0


def test_limits_are_configurable(tmp_path) -> None:
    c = open_billing(
        f"sqlite:///{tmp_path / 'l.sqlite'}",
        limits=VendLimits(minimum=Decimal("20.00"), maximum=Decimal("30.00")),
    )
    setup_meter(c)
    with pytest.raises(VendRefused, match=r"below the minimum 20\.00"):
        buy(c, "10.00", "r1")
    assert buy(c, "25.00", "r2").credit == 2500
    c.close()


def test_refuses_unknown_meter(centre: BillingCentre) -> None:
    setup_meter(centre)
    with pytest.raises(VendRefused) as err:
        buy(centre, "10.00", "r", meter_no="999999999999")
    assert err.value.reason == "unknown_meter"
    assert isinstance(err.value, BillingError)


def test_refuses_blocked_meter(centre: BillingCentre) -> None:
    setup_meter(centre)
    centre.set_meter_status(METER, "blocked")
    with pytest.raises(VendRefused) as err:
        buy(centre, "10.00", "r")
    assert err.value.reason == "meter_blocked"
    centre.set_meter_status(METER, MeterStatus.ACTIVE)
    assert buy(centre, "10.00", "r").sequence == 1


@pytest.mark.parametrize("status", [CardStatus.LOST, CardStatus.BLOCKED, CardStatus.REPLACED])
def test_refuses_without_active_card(centre: BillingCentre, status: CardStatus) -> None:
    setup_meter(centre)
    centre.set_card_status("CARD-1", status)
    with pytest.raises(VendRefused) as err:
        buy(centre, "10.00", "r")
    assert err.value.reason == "no_active_card"


def test_refuses_while_card_carries_unapplied_purchase(centre: BillingCentre) -> None:
    setup_meter(centre)
    v = buy(centre, "10.00", "r1")
    with pytest.raises(VendRefused) as err:  # still `created`
        buy(centre, "10.00", "r2")
    assert err.value.reason == "unapplied_purchase"
    centre.mark_written(v.vend_id)
    with pytest.raises(VendRefused) as err:  # `written`, not yet read back
        buy(centre, "10.00", "r2")
    assert err.value.reason == "unapplied_purchase"
    assert "#1" in str(err.value)
    # a readback that does not show the purchase applied keeps it pending
    ingest(centre, readback())
    with pytest.raises(VendRefused):
        buy(centre, "10.00", "r2")
    ingest(centre, applied_readback(1000, 0, 1000))
    assert buy(centre, "10.00", "r2").sequence == 2


@pytest.mark.parametrize(
    ("station", "operator", "reason"),
    [("NOPE", "carol", "unknown_station"), ("DESK-1", "mallory", "unknown_operator")],
)
def test_refuses_unknown_station_or_operator(centre, station, operator, reason) -> None:
    setup_meter(centre)
    with pytest.raises(VendRefused) as err:
        centre.vend(METER, Decimal("10.00"), request_id="r", station=station, operator=operator)
    assert err.value.reason == reason


def test_register_meter_validation(centre: BillingCentre) -> None:
    setup_meter(centre)
    kwargs = dict(
        customer_account="ACC-1",
        profile="p",
        credit_unit="money_cents",
        tariff_code="RES",
        key_revision=1,
        commissioning_energy_wh=0,
        commissioned_at=T0,
    )
    with pytest.raises(BillingError, match="12 digits"):
        centre.register_meter("12345", **kwargs)
    with pytest.raises(BillingError, match="already registered"):
        centre.register_meter(METER, **kwargs)
    with pytest.raises(NotFound):
        centre.register_meter("111111111111", **{**kwargs, "customer_account": "X"})
    with pytest.raises(BillingError, match="credit unit"):
        centre.register_meter("111111111111", **{**kwargs, "credit_unit": "litres"})
    with pytest.raises(BillingError, match="active card"):
        centre.issue_card(METER, "CARD-2")


# -- reconciliation ----------------------------------------------------------------------------


def test_wrong_cumulative_purchase_is_a_stored_mismatch(centre: BillingCentre) -> None:
    setup_meter(centre)
    v = buy(centre, "10.00", "r1")
    centre.mark_written(v.vend_id)
    result = ingest(
        centre,
        readback(
            energy_wh=E0,
            remaining=1500,
            purchase_count=1,
            last_sequence=1,
            cumulative_purchase=1500,
        )
    )
    assert result.verdict is Verdict.MISMATCH
    assert "purchase_total" in failed(result)
    stored = centre.latest_reconciliation(METER)
    assert stored is not None and stored.verdict is Verdict.MISMATCH
    assert "purchase_total" in stored.evidence["failed"]
    assert stored.evidence["readback"]["cumulative_purchase"] == 1500
    assert stored.evidence["derived"]["applied_credit"] == 1000
    assert [e.reconciliation_id for e in centre.reconciliation_exceptions()] == [
        result.reconciliation_id
    ]


@pytest.mark.parametrize(
    ("used_wh", "remaining", "verdict"),
    [
        (2000, 970, Verdict.BALANCED),  # exact: 0.30
        (2000, 969, Verdict.BALANCED),  # off by one cent (< 0.01 + 0.00015)
        (1999, 969, Verdict.BALANCED),  # off by exactly the tolerance 0.01015
        (1999, 968, Verdict.MISMATCH),  # 0.02015 off
        (2000, 968, Verdict.MISMATCH),  # two cents off
        (2000, 972, Verdict.MISMATCH),  # meter kept too much credit
    ],
)
def test_conservation_tolerance(centre, used_wh: int, remaining: int, verdict: Verdict) -> None:
    setup_meter(centre)
    v = buy(centre, "10.00", "r1")
    centre.mark_written(v.vend_id)
    result = ingest(centre, applied_readback(1000, used_wh, remaining))
    assert result.verdict is verdict
    assert failed(result) <= {"conservation"}
    (cons,) = [c for c in result.checks if c.name == "conservation"]
    assert cons.tolerance == Decimal("0.01015")
    assert isinstance(cons.expected, Decimal) and isinstance(cons.actual, Decimal)


def test_overdraft_counts_as_consumed(centre: BillingCentre) -> None:
    setup_meter(centre)
    v = buy(centre, "1.00", "r1")
    centre.mark_written(v.vend_id)
    # 7667 Wh × 0.15/kWh = 1.15005 against 1.00 of credit → 15 cents of overdraft
    result = ingest(
        centre,
        readback(
            energy_wh=E0 + 7667,
            remaining=0,
            overdraft=15,
            purchase_count=1,
            last_sequence=1,
            cumulative_purchase=100,
        )
    )
    assert result.verdict is Verdict.BALANCED, result.failed


@pytest.mark.parametrize(
    ("over", "check"),
    [
        ({"last_sequence": 2}, "last_sequence_not_beyond_issued"),
        ({"credit_unit": "energy_wh"}, "credit_unit"),
    ],
)
def test_other_checks_fail_to_mismatch(centre, over: dict, check: str) -> None:
    setup_meter(centre)
    centre.mark_written(buy(centre, "10.00", "r1").vend_id)
    rb = applied_readback(1000, 2000, 970)
    result = ingest(centre, ReadbackData(**{**rb.__dict__, **over}))
    assert result.verdict is Verdict.MISMATCH
    assert check in failed(result)


def test_energy_must_not_run_backwards(centre: BillingCentre) -> None:
    setup_meter(centre)
    centre.mark_written(buy(centre, "10.00", "r1").vend_id)
    assert ingest(centre, applied_readback(1000, 2000, 970)).verdict is Verdict.BALANCED
    result = ingest(centre, applied_readback(1000, 1000, 985))
    assert "energy_monotonic" in failed(result)


def test_card_of_another_meter_is_flagged(centre: BillingCentre) -> None:
    setup_meter(centre)
    centre.register_customer("Bob", "ACC-2")
    centre.register_meter(
        "000000000002",
        customer_account="ACC-2",
        profile="p",
        credit_unit="money_cents",
        tariff_code="RES",
        key_revision=1,
        commissioning_energy_wh=E0,
        commissioned_at=T0,
    )
    centre.issue_card("000000000002", "CARD-2")
    result = ingest(centre, readback(), card_serial="CARD-2")
    assert failed(result) == {"card_meter_no"}


def test_readback_for_unknown_meter_is_refused(centre: BillingCentre) -> None:
    setup_meter(centre)
    with pytest.raises(NotFound, match="999999999999"):
        ingest(centre, readback(meter_no="999999999999"))


# -- tariffs & reports -------------------------------------------------------------------------


def test_new_tariff_version_applies_from_its_effective_date(centre, clock) -> None:
    setup_meter(centre, unit=CreditUnit.ENERGY_WH)
    t2 = centre.create_tariff("RES", Decimal("0.2000"), clock.now + timedelta(days=1))
    assert t2.version == 2
    v1 = buy(centre, "10.00", "r1")
    assert (v1.tariff_version, v1.credit) == (1, 66666)
    ingest(
        centre,
        readback(
            credit_unit="energy_wh",
            remaining=66666,
            purchase_count=1,
            last_sequence=1,
            cumulative_purchase=66666,
        )
    )
    clock.now += timedelta(days=2)
    v2 = buy(centre, "10.00", "r2")
    assert (v2.tariff_version, v2.credit, v2.price_per_kwh) == (2, 50000, Decimal("0.2000"))
    with pytest.raises(BillingError, match="4 decimals"):
        centre.create_tariff("RES", Decimal("0.12345"), T0)
    with pytest.raises(BillingError, match="never float"):
        centre.create_tariff("RES", 0.1, T0)  # type: ignore[arg-type]


def test_daily_sales(centre, clock) -> None:
    setup_meter(centre)
    v = buy(centre, "10.00", "r1")
    ingest(centre, applied_readback(1000, 0, 1000))
    clock.now += timedelta(days=1)
    buy(centre, "2.50", "r2")
    day1 = centre.daily_sales(v.created_at.date())
    assert (day1.vend_count, day1.total_amount) == (1, Decimal("10.00"))
    day2 = centre.daily_sales(clock.now.date())
    assert day2.total_amount == Decimal("2.50") and day2.credit_by_unit == {"money_cents": 250}
    assert day2.amount_by_station == {"DESK-1": Decimal("2.50")}
    assert centre.daily_sales(T0.date()).vend_count == 0
