"""Data identifier formats: BCD byte order, sign bit, dates, registry errors."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rig.meter.dlt645 import data_ids as d


def test_di_byte_order() -> None:
    assert d.di_to_bytes(0x00900200) == bytes.fromhex("00 02 90 00")
    assert d.di_from_bytes(bytes.fromhex("03 05 00 04")) == d.STATUS_WORD_3


def test_money_low_byte_first() -> None:
    assert d.encode_value(d.REMAINING_AMOUNT, Decimal("1234.56")) == bytes.fromhex("56 34 12 00")
    value = d.decode_value(d.REMAINING_AMOUNT, bytes.fromhex("56 34 12 00"))
    assert value == Decimal("1234.56") and isinstance(value, Decimal)


def test_signed_current_and_power() -> None:
    assert d.encode_value(d.PHASE_A_CURRENT, Decimal("-1.5")) == bytes.fromhex("00 15 80")
    assert d.decode_value(d.PHASE_A_CURRENT, bytes.fromhex("00 15 80")) == Decimal("-1.500")
    assert d.decode_value(d.TOTAL_ACTIVE_POWER, bytes.fromhex("00 20 02")) == Decimal("2.2000")
    with pytest.raises(d.DataFormatError, match="out of range"):
        d.encode_value(d.PHASE_A_CURRENT, Decimal("800"))


def test_counts_are_int_and_status_words_little_endian() -> None:
    assert d.decode_value(d.LAST_PURCHASE_COUNT, bytes.fromhex("12 00")) == 12
    word = d.SW3_RELAY_OPEN | d.SW3_METER_TYPE_MONEY_PREPAID
    assert d.encode_value(d.STATUS_WORD_3, word) == bytes.fromhex("10 02")
    assert d.decode_value(d.STATUS_WORD_3, bytes.fromhex("10 02")) == word


def test_dates_times_addresses() -> None:
    # 2024-05-17 is a Friday: WW = 05; wire order WW DD MM YY.
    assert d.encode_value(d.DATE_WEEK, dt.date(2024, 5, 17)) == bytes.fromhex("05 17 05 24")
    assert d.decode_value(d.DATE_WEEK, bytes.fromhex("05 17 05 24")) == "24051705"
    assert d.to_date("24051705") == dt.date(2024, 5, 17)
    assert d.encode_value(d.TIME, dt.time(13, 4, 59)) == bytes.fromhex("59 04 13")
    assert d.decode_value(d.COMM_ADDRESS, bytes.fromhex("12 90 78 56 34 12")) == "123456789012"
    record = d.encode_value(d.LAST_TRIP_RECORD, dt.datetime(2024, 5, 17, 8, 30, 0))
    assert len(record) == 34 and record[:6] == bytes.fromhex("00 30 08 17 05 24")
    assert d.to_datetime(str(d.decode_value(d.LAST_TRIP_RECORD, record))) == dt.datetime(
        2024, 5, 17, 8, 30
    )
    with pytest.raises(d.DataFormatError, match="not a valid"):
        d.decode_value(d.TIME, bytes.fromhex("00 61 25"))


def test_format_errors() -> None:
    with pytest.raises(d.DataFormatError, match="float"):
        d.encode_value(d.REMAINING_AMOUNT, 1.5)
    with pytest.raises(d.DataFormatError, match="decimals"):
        d.encode_value(d.REMAINING_AMOUNT, Decimal("1.005"))
    with pytest.raises(d.DataFormatError, match="negative"):
        d.encode_value(d.REMAINING_AMOUNT, Decimal("-1"))
    with pytest.raises(d.DataFormatError, match="not BCD"):
        d.decode_value(d.REMAINING_AMOUNT, bytes.fromhex("5A 34 12 00"))
    with pytest.raises(d.DataFormatError, match="expected 4 bytes"):
        d.decode_value(d.REMAINING_AMOUNT, b"\x00")


def test_unknown_di_is_key_error_with_clear_message() -> None:
    with pytest.raises(KeyError) as info:
        d.encode_value(0x12345678, 1)
    assert str(info.value).startswith("data identifier 12345678 is not in the DL/T 645 registry")


NUMERIC = [x for x in d.REGISTRY.values() if x.kind is d.Kind.NUMBER]


@pytest.mark.parametrize("fmt", NUMERIC, ids=lambda x: f"{x.di:08X}")
@given(data=st.data())
def test_numeric_round_trip(fmt: d.DataId, data: st.DataObject) -> None:
    limit = 10**fmt.digits if not fmt.signed else 8 * 10 ** (fmt.digits - 1)
    low = -(limit - 1) if fmt.signed else 0
    scaled = data.draw(st.integers(low, limit - 1))
    value = Decimal(scaled).scaleb(-fmt.decimals) if fmt.decimals else scaled
    raw = d.encode_value(fmt.di, value)
    assert len(raw) == fmt.length
    assert d.decode_value(fmt.di, raw) == value
    assert d.encode_value(fmt.di, d.decode_value(fmt.di, raw)) == raw
