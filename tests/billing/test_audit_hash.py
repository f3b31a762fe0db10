"""The audit chain's hash: one definition, unchanged by how the event is serialised.

Chains written by earlier releases must keep verifying, so the hash of a given event is
pinned; the blob is assembled from pre-serialised parts (``before``/``after`` are serialised
once, for the hash and the stored row alike) and must equal the plain canonical dump of the
whole event for any content.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields, is_dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rig.billing import audit
from rig.billing.types import CreditUnit, ReceiptLine, VendKind, VendResult, VendStatus

EVENT: dict[str, Any] = {
    "seq": 42,
    "at": datetime(2026, 3, 1, 12, 30, 5, 250, tzinfo=timezone(timedelta(hours=2))),
    "actor": "kassierer Ünal", "action": "vend.create", "entity": "vend", "entity_id": "7",
    "before": None,
    "after": {"amount": "12.50", "credit_unit": "money_cents", "note": 'say "hi"\n',
              "receipt": [{"label": "Energy", "amount": "10.00"}], "n": 3, "flag": True,
              "x": None},
    "prev_hash": "ab" * 32,
}


def _reference(seq: int, at: datetime, actor: str, action: str, entity: str, entity_id: str,
               before: Any, after: Any, prev_hash: str) -> str:
    payload = {"seq": seq, "at": at.astimezone(UTC).isoformat(), "actor": actor,
               "action": action, "entity": entity, "entity_id": entity_id, "before": before,
               "after": after, "prev": prev_hash}
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def test_the_hash_of_a_given_event_is_what_earlier_releases_stored() -> None:
    # computed by rig at 3c99776, before the blob was assembled from parts
    pinned = "34cd9bef59d094fb365ae8707d33e42b31792ddefdcca3c01dfc5d2c39d00282"
    assert audit.event_hash(**EVENT) == pinned
    assert _reference(**EVENT) == pinned


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12)


@given(seq=st.integers(1, 2**53), actor=st.text(), action=st.text(), entity=st.text(),
       entity_id=st.text(), before=json_values, after=json_values,
       prev=st.text(alphabet="0123456789abcdef", min_size=64, max_size=64))
def test_the_assembled_blob_hashes_like_the_canonical_dump_of_the_whole_event(
        seq: int, actor: str, action: str, entity: str, entity_id: str, before: Any,
        after: Any, prev: str) -> None:
    at = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert audit.event_hash(seq, at, actor, action, entity, entity_id, before, after, prev) \
        == _reference(seq, at, actor, action, entity, entity_id, before, after, prev)


class Colour(Enum):
    RED = "red"


@dataclass(frozen=True)
class Line:
    label: str
    amount: Decimal


@dataclass(frozen=True)
class Sale:
    amount: Decimal
    unit: CreditUnit
    colour: Colour
    at: datetime
    day: date
    lines: tuple[Line, ...]


def test_canonical_json_writes_money_as_exact_strings_and_dataclasses_as_objects() -> None:
    sale = Sale(Decimal("0.10"), CreditUnit.MONEY_CENTS, Colour.RED,
                datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC), date(2025, 1, 2),
                (Line("Energy", Decimal("12345678901234567.89")),))
    assert json.loads(audit.canonical_json(sale)) == {
        "amount": "0.10", "unit": "money_cents", "colour": "red",
        "at": "2025-01-02T03:04:05+00:00", "day": "2025-01-02",
        "lines": [{"label": "Energy", "amount": "12345678901234567.89"}]}


def test_canonical_json_refuses_what_it_cannot_write_exactly() -> None:
    with pytest.raises(TypeError, match="cannot hold bytes"):
        audit.canonical_json({"key": b"\x00"})


def _reference_json(value: Any) -> str:
    """The canonical JSON as the encoder alone writes it (dataclasses handed over as dicts)."""
    def safe(v: Any) -> Any:
        if isinstance(v, Decimal):
            return str(v)
        if isinstance(v, datetime | date):
            return v.isoformat()
        if isinstance(v, Enum):
            return v.value
        if is_dataclass(v) and not isinstance(v, type):
            return {f.name: getattr(v, f.name) for f in fields(v)}
        raise TypeError(type(v).__name__)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      default=safe)


money = st.decimals(allow_nan=False, allow_infinity=False, places=2,
                    min_value=Decimal("-1e15"), max_value=Decimal("1e15"))
texts = st.text(max_size=12)  # any code point: escaped to ASCII alike
lines = st.builds(ReceiptLine, texts, money, texts)
results = st.builds(
    VendResult, vend_id=st.integers(0, 2**62), request_id=texts, meter_no=texts,
    card_serial=texts, sequence=st.integers(0, 2**31), credit=st.integers(-5, 2**40),
    credit_unit=st.sampled_from(CreditUnit), amount=money, tariff_code=texts,
    tariff_version=st.integers(1, 99), price_per_kwh=money, key_revision=st.integers(0, 9),
    receipt=st.lists(lines, max_size=3).map(tuple), status=st.sampled_from(VendStatus),
    station=texts, operator=texts,
    created_at=st.datetimes(timezones=st.just(UTC)), kind=st.sampled_from(VendKind),
    parameters=st.none() | st.dictionaries(texts, st.integers() | texts | st.none(),
                                           max_size=3),
    reprint_count=st.integers(0, 9), tender=texts, token=st.none() | texts)


@given(results)
def test_a_sales_result_is_written_as_the_encoder_alone_writes_it(result: VendResult) -> None:
    assert audit.canonical_json(result) == _reference_json(result)


@given(st.builds(Sale, money, st.sampled_from(CreditUnit), st.just(Colour.RED),
                 st.datetimes(timezones=st.just(UTC)), st.dates(),
                 st.lists(st.builds(Line, texts, money), max_size=3).map(tuple)))
def test_any_dataclass_is_written_as_the_encoder_alone_writes_it(sale: Sale) -> None:
    assert audit.canonical_json(sale) == _reference_json(sale)
    assert audit.canonical_json({"sale": sale, "n": [1, sale]}) == _reference_json(
        {"sale": sale, "n": [1, sale]})


@dataclass(frozen=True)
class Declared:
    """Fields whose values may be of another type than declared (nothing checks them)."""

    count: int
    name: str
    amount: Decimal
    at: datetime
    day: date
    unit: CreditUnit
    rest: Any


anything = st.none() | st.booleans() | st.integers() | texts | money \
    | st.datetimes(timezones=st.just(UTC)) | st.dates() | st.sampled_from(CreditUnit)


@given(st.builds(Declared, anything, anything, anything, anything, anything, anything,
                 anything))
def test_a_field_holding_another_type_than_declared_is_written_as_the_encoder_writes_it(
        value: Declared) -> None:
    # each dataclass's generated writer takes a shortcut for the declared type only
    assert audit.canonical_json(value) == _reference_json(value)
