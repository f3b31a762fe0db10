"""Data identifier formats: BCD byte order, sign bit, dates, registry errors."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rig.meter.card_errors import CardErrorCode, describe
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


RECORD_IDS = [d.LAST_ABNORMAL_CARD_RECORD + i for i in range(d.ABNORMAL_CARD_RECORDS)]
amounts = st.integers(0, 99_999_999).map(lambda n: Decimal(n).scaleb(-2))


@given(at=st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2099, 12, 31)),
       serial=st.binary(min_size=8, max_size=8), error=st.integers(0, 255),
       header=st.binary(min_size=5, max_size=5), sw=st.integers(0, 0xFFFF),
       count=st.integers(0, 9999), remaining=amounts, forward=amounts, reverse=amounts,
       which=st.sampled_from(RECORD_IDS))
def test_abnormal_card_record_round_trip(at: dt.datetime, serial: bytes, error: int,
                                         header: bytes, sw: int, count: int,
                                         remaining: Decimal, forward: Decimal,
                                         reverse: Decimal, which: int) -> None:
    record = d.AbnormalCardRecord(at.strftime("%y%m%d%H%M%S"), serial.hex().upper(), error,
                                  header, sw, count, remaining, forward, reverse)
    raw = d.encode_value(which, record)
    assert len(raw) == 36
    assert raw[6:14] == serial[::-1] and raw[14] == error and raw[15:20] == header[::-1]
    back = d.decode_value(which, raw)
    assert back == record and d.encode_value(which, back) == raw
    assert isinstance(back, d.AbnormalCardRecord)
    assert back.occurred == at.replace(microsecond=0)


def test_unwritten_record_slot_and_unknown_codes_decode() -> None:
    empty = d.decode_value(d.LAST_ABNORMAL_CARD_RECORD, bytes(36))
    assert isinstance(empty, d.AbnormalCardRecord)
    assert empty.occurred is None and empty.reason is None and empty.error == 0
    other_maker = d.AbnormalCardRecord("260304090000", "00" * 8, 0x63)
    assert other_maker.reason is None and describe(0x63) == "99 (not a State Grid card error code)"
    assert describe(CardErrorCode.MAC_ERROR) == "10 MAC check error"


@pytest.mark.parametrize(("record", "problem"), [
    (d.AbnormalCardRecord("261304090000", "00" * 8, 1), "not a valid YYMMDDhhmmss"),
    (d.AbnormalCardRecord("260304090000", "00" * 7, 1), "card serial '00000000000000'"),
    (d.AbnormalCardRecord("260304090000", "ZZ" * 8, 1), "is not 16 hex digits"),
    (d.AbnormalCardRecord("260304090000", "00" * 8, 256), "error word 256"),
    (d.AbnormalCardRecord("260304090000", "00" * 8, 1, b"\0" * 4), "command header"),
    (d.AbnormalCardRecord("260304090000", "00" * 8, 1, response_status=0x10000),
     "response status 65536"),
    (d.AbnormalCardRecord("260304090000", "00" * 8, 1, purchase_count=10_000),
     "purchase count: 10000 out of range"),
    (d.AbnormalCardRecord("260304090000", "00" * 8, 1, remaining=Decimal("0.001")),
     "remaining credit: 0.001 has more than 2 decimals"),
    ("260304090000", "expected an AbnormalCardRecord"),
])
def test_abnormal_card_record_refuses_bad_values(record: object, problem: str) -> None:
    with pytest.raises(d.DataFormatError, match=r"03301302 abnormal card insertion record "
                                                r"\(last 2\)") as info:
        d.encode_value(d.LAST_ABNORMAL_CARD_RECORD + 1, record)
    assert problem in str(info.value)


def test_abnormal_card_record_names_bad_reply_bytes() -> None:
    raw = bytearray(d.encode_value(d.LAST_ABNORMAL_CARD_RECORD, d.AbnormalCardRecord(
        "260304090000", "00" * 8, 1)))
    raw[24] = 0x5A  # remaining credit's low byte: not BCD
    with pytest.raises(d.DataFormatError, match="remaining credit: bytes 5A 00 00 00 are not BCD"):
        d.decode_value(d.LAST_ABNORMAL_CARD_RECORD, bytes(raw))
    with pytest.raises(d.DataFormatError, match="expected 36 bytes, got 35"):
        d.decode_value(d.LAST_ABNORMAL_CARD_RECORD, bytes(raw[:35]))
