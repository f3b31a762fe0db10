"""Money is exact in the database: values a double would corrupt survive storage and SQL sums."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import DateTime, func, select, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from rig.billing import create_billing_engine, open_billing, upgrade
from rig.billing import models as m
from rig.billing.money import ScaledDecimal, to_units

T0 = datetime(2024, 1, 1, tzinfo=UTC)
BIG_PRICE = Decimal("9876543210987.6543")  # 17 significant digits: a double cannot hold it


def test_double_would_corrupt_these_values() -> None:
    # Guard that the values used below really are the ones a double gets wrong.
    assert Decimal(0.1 + 0.2) != Decimal("0.3")
    assert Decimal(repr(float(BIG_PRICE))) != BIG_PRICE
    assert Decimal(repr(float("1234567890124956.78"))) != Decimal("1234567890124956.78")


def test_tariff_price_with_15_significant_digits_round_trips(tmp_path) -> None:
    with open_billing(f"sqlite:///{tmp_path / 'b.sqlite'}") as c:
        # The service refuses a price a card cannot carry (at most 429496.7295): the column
        # itself is what is tested here, so the price is written to it directly.
        t = c.create_tariff("BIG", Decimal("0.1"), T0)
        with Session(c.engine) as s, s.begin():
            s.execute(update(m.Tariff).values(price_per_kwh=BIG_PRICE))
        with Session(c.engine) as s:
            stored = s.scalar(select(m.Tariff.price_per_kwh).where(m.Tariff.id == t.tariff_id))
            raw = s.scalar(text("SELECT typeof(price_per_kwh) FROM tariffs"))
    assert stored == BIG_PRICE
    assert raw == "integer"


def test_sql_sum_of_tenths_is_exact(tmp_path) -> None:
    """0.1 + 0.2 summed by SQLite itself, and 17 significant digits of cents."""
    engine = create_billing_engine(f"sqlite:///{tmp_path / 'b.sqlite'}")
    upgrade(engine)
    amounts = [Decimal("0.10"), Decimal("0.20")] * 500 + [Decimal("1234567890123456.78")]
    with Session(engine) as s, s.begin():
        s.add(m.Customer(account_no="A", name="n", address="", created_at=T0))
        s.add(m.Station(code="S"))
        s.add(m.Operator(name="o", role="cashier"))
        s.add(m.Tariff(code="T", version=1, price_per_kwh=Decimal("0.15"), effective_from=T0,
                       created_at=T0))
        s.flush()
        meter = m.Meter(meter_no="000000000001", customer_id=1, profile="p",
                        credit_unit="money_cents", tariff_id=1, key_revision=0,
                        commissioning_energy_wh=0, commissioned_at=T0, last_sequence=0,
                        status="active", created_at=T0)
        s.add(meter)
        s.flush()
        card = m.Card(card_serial="C", meter_id=meter.id, card_type="customer",
                      status="active", issued_at=T0)
        s.add(card)
        s.flush()
        for i, a in enumerate(amounts, start=1):
            s.add(m.Vend(request_id=f"r{i}", meter_id=meter.id, card_id=card.id, station_id=1,
                         operator_id=1, tariff_id=1, amount=a, credit=1,
                         credit_unit="money_cents", sequence=i, tariff_version=1,
                         price_per_kwh=Decimal("0.15"), key_revision=0, receipt=[],
                         status="created", created_at=T0))
    with Session(engine) as s:
        total = s.scalar(select(func.sum(m.Vend.amount)))
        big = s.scalar(select(m.Vend.amount).where(m.Vend.request_id == f"r{len(amounts)}"))
    engine.dispose()
    assert total == Decimal("1234567890123606.78")  # SQL SUM over integer cents
    assert big == Decimal("1234567890123456.78")


def test_excess_precision_and_floats_are_refused() -> None:
    with pytest.raises(ValueError, match="more than 2 decimal places"):
        to_units(Decimal("0.001"), 2)
    with pytest.raises(TypeError, match="float"):
        to_units(0.1, 2)  # type: ignore[arg-type]
    assert ScaledDecimal(2).process_result_value(-5, None) == Decimal("-0.05")  # type: ignore[arg-type]


def test_upgrade_from_0001_converts_stored_doubles_exactly(tmp_path) -> None:
    """A database written by the first release keeps its money when upgraded."""
    engine = create_billing_engine(f"sqlite:///{tmp_path / 'old.sqlite'}")
    upgrade(engine, "0001")
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO tariffs (id, code, version, price_per_kwh, effective_from, created_at) "
            "VALUES (1, 'T', 1, 0.1537, '2024-01-01', '2024-01-01')"))
        conn.execute(text(
            "INSERT INTO customers VALUES (1, 'A', 'n', '', '2024-01-01')"))
        conn.execute(text("INSERT INTO stations VALUES (1, 'S')"))
        conn.execute(text("INSERT INTO operators VALUES (1, 'o', 'cashier')"))
        conn.execute(text(
            "INSERT INTO meters (id, meter_no, customer_id, profile, credit_unit, tariff_id, "
            "key_revision, commissioning_energy_wh, commissioned_at, last_sequence, status, "
            "created_at) VALUES (1, '000000000001', 1, 'p', 'money_cents', 1, 0, 0, "
            "'2024-01-01', 1, 'active', '2024-01-01')"))
        conn.execute(text(
            "INSERT INTO cards VALUES (1, 'C', 1, 'customer', 'active', '2024-01-01')"))
        conn.execute(text(
            "INSERT INTO vends (id, request_id, meter_id, card_id, station_id, operator_id, "
            "tariff_id, amount, credit, credit_unit, sequence, tariff_version, price_per_kwh, "
            "key_revision, receipt, status, created_at) VALUES (1, 'r', 1, 1, 1, 1, 1, "
            "123456789012.34, 1, 'money_cents', 1, 1, 0.1537, 0, '[]', 'created', "
            "'2024-01-01')"))
    upgrade(engine)
    with Session(engine) as s:
        vend = s.get(m.Vend, 1)
        assert vend is not None
        assert vend.amount == Decimal("123456789012.34")
        assert vend.price_per_kwh == Decimal("0.1537")
        assert s.get(m.Tariff, 1).price_per_kwh == Decimal("0.1537")  # type: ignore[union-attr]
        kinds = s.execute(text("SELECT typeof(amount), typeof(price_per_kwh) FROM vends")).one()
    assert tuple(kinds) == ("integer", "integer")
    engine.dispose()


decimals = st.decimals(allow_nan=True, allow_infinity=True) | st.builds(
    lambda digits, exponent: Decimal(f"{digits}E{exponent}"),
    st.integers(-10**20, 10**20), st.integers(-999_999_990, 999_999_990))


@given(value=decimals, scale=st.sampled_from([2, 4, 7]))
@example(value=Decimal("0E+12"), scale=7)  # zero with a large exponent is zero units
def test_to_units_is_exact_or_refuses(value: Decimal, scale: int) -> None:
    """Whatever a Decimal holds: the exact count of units when it is a whole number of them
    within 64 bits, else ValueError — never a rounded or truncated count."""
    if not value.is_finite():
        with pytest.raises(ValueError, match="not finite"):
            to_units(value, scale)
        return
    if value and abs(value.adjusted()) > 40:  # far outside 64 bits of units, either way
        with pytest.raises(ValueError, match=r"decimal places|does not fit"):
            to_units(value, scale)
        return
    exact = Fraction(value) * 10**scale
    if exact.denominator != 1 or abs(exact) > 2**63 - 1:
        with pytest.raises(ValueError, match=r"decimal places|does not fit"):
            to_units(value, scale)
    else:
        assert to_units(value, scale) == exact.numerator
        assert ScaledDecimal(scale).bind_processor(sqlite.dialect())(value) == exact.numerator


@given(at=st.datetimes(timezones=st.none() | st.timezones()))
def test_sqlite_datetimes_are_stored_as_sqlalchemy_stores_them(at: datetime) -> None:
    """The fast bind writes exactly SQLAlchemy's SQLite text for the UTC instant (naive
    values are UTC), so stored values keep sorting and comparing as before."""
    dialect = sqlite.dialect()
    fast = m.UTCDateTime().bind_processor(dialect)
    assert fast is not None
    reference = DateTime().dialect_impl(dialect).bind_processor(dialect)
    try:
        utc = m.to_utc(at)
    except OverflowError:  # e.g. 0001-01-01 at +01:00 is before year 1 in UTC
        return
    assert fast(at) == reference(utc)
    assert fast(None) is None
