"""The SQLite text of a bound instant is its own, whichever instants were bound before it (a
sale binds the same one three times, so the last two made are kept)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from rig.billing.models.base import _sqlite_utc_text

instants = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                        timezones=st.sampled_from([UTC, timezone(timedelta(hours=2)),
                                                   timezone(timedelta(hours=-5, minutes=-30))]))


@given(st.lists(instants, min_size=1, max_size=6), st.lists(st.integers(0, 5), max_size=20))
def test_each_instant_gets_its_own_text_in_any_order_of_binds(
        pool: list[datetime], order: list[int]) -> None:
    for k in [*order, *range(len(pool))]:
        value = pool[k % len(pool)]
        expected = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        assert _sqlite_utc_text(value) == expected
    assert _sqlite_utc_text(None) is None


def test_a_naive_instant_is_taken_as_utc() -> None:
    assert _sqlite_utc_text(datetime(2026, 3, 1, 12, 0, 5, 7)) == "2026-03-01 12:00:05.000007"
