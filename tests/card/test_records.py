"""Record layouts byte for byte, MAC sign/verify, and fuzzing of the decoders."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rig.card.apdu import MacError, RecordError
from rig.card.keys import mac
from rig.card.records import (
    EPOCH,
    CardInfo,
    CardType,
    CreditUnit,
    PurchaseRecord,
    ReadbackRecord,
    TariffRecord,
)

KEY = bytes(range(16))
OTHER_KEY = bytes(range(1, 17))
TS = datetime(2024, 3, 1, 12, 0, 5, tzinfo=UTC)
TS_SECONDS = int((TS - EPOCH).total_seconds())


def readback(**kw) -> ReadbackRecord:
    fields = dict(meter_no="000012345678", energy_wh=123_456, remaining=5000, overdraft=0,
                  purchase_count=3, last_sequence=7, cumulative_purchase=30_000,
                  credit_unit=CreditUnit.MONEY_CENTS, relay_open=False, alarm_active=True,
                  alarm_count=2, cutoff_count=1, tamper_count=0, power_down_count=4,
                  timestamp=TS, tariff_version=2)
    fields.update(kw)
    return ReadbackRecord(**fields)


def test_card_info_layout() -> None:
    info = CardInfo(CardType.USER, "0011223344aabbcc", "123456789012", 1, 0x01020304)
    expected = bytes.fromhex("01" "01" "0011223344AABBCC" "123456789012" "01" "01020304")
    assert info.to_bytes() == expected
    assert len(expected) == CardInfo.SIZE == 21
    assert CardInfo.from_bytes(expected) == info
    assert info.card_serial == "0011223344AABBCC"


def test_purchase_layout() -> None:
    rec = PurchaseRecord("123456789012", sequence=0x01020304, credit=10_000,
                         credit_unit=CreditUnit.ENERGY_WH, tariff_version=0x0A0B, key_revision=2,
                         mac=bytes.fromhex("A1A2A3A4A5A6A7A8"))
    expected = bytes.fromhex("01" "123456789012" "01020304" "00002710" "01" "0A0B" "02"
                             "A1A2A3A4A5A6A7A8")
    assert rec.to_bytes() == expected
    assert PurchaseRecord.from_bytes(expected) == rec
    assert PurchaseRecord.SIZE == 27


def test_tariff_layout() -> None:
    rec = TariffRecord("000000000001", version=3, price_per_kwh=Decimal("0.5321"),
                       alarm1=1000, alarm2=200)
    expected = bytes.fromhex("01" "000000000001" "0003" "000014C9" "000003E8" "000000C8") + bytes(8)
    assert rec.to_bytes() == expected
    back = TariffRecord.from_bytes(expected)
    assert back == rec and back.price_per_kwh == Decimal("0.5321")
    assert str(back.price_per_kwh) == "0.5321"


def test_readback_layout() -> None:
    rec = readback(relay_open=True, readback_no=9)
    expected = bytes.fromhex(
        "01" "000012345678" "0001E240" "00001388" "00000000" "0003" "00000007" "00007530"
        "00" "03" "0002" "0001" "0000" "0004") + TS_SECONDS.to_bytes(4, "big") + \
        bytes.fromhex("0002") + bytes.fromhex("00000009") + bytes(8)
    assert rec.to_bytes() == expected
    assert ReadbackRecord.from_bytes(expected) == rec
    assert ReadbackRecord.SIZE == 57


def test_readback_timestamp_normalised_to_utc_seconds() -> None:
    local = TS.astimezone(timezone(timedelta(hours=8))).replace(microsecond=999_999)
    assert readback(timestamp=local).timestamp == TS
    with pytest.raises(RecordError, match="timestamp"):
        readback(timestamp=datetime(2024, 1, 1))  # naive
    with pytest.raises(RecordError, match="timestamp"):
        readback(timestamp=datetime(1999, 12, 31, tzinfo=UTC))


@pytest.mark.parametrize("kw, field", [
    ({"meter_no": "12345678901"}, "meter_no"),
    ({"meter_no": "12345678901a"}, "meter_no"),
    ({"sequence": -1}, "sequence"),
    ({"credit": 2**32}, "credit"),
    ({"credit": 1.5}, "credit"),
    ({"credit_unit": 7}, "credit_unit"),
    ({"key_revision": 256}, "key_revision"),
    ({"mac": b"short"}, "mac"),
])
def test_purchase_field_errors_name_field(kw, field) -> None:
    fields = dict(meter_no="123456789012", sequence=1, credit=1, credit_unit=0, tariff_version=1,
                  key_revision=1)
    fields.update(kw)
    with pytest.raises(RecordError) as ei:
        PurchaseRecord(**fields)
    assert ei.value.record == "PurchaseRecord" and ei.value.field == field
    assert str(ei.value).startswith(f"PurchaseRecord.{field}:")


@pytest.mark.parametrize("price", [Decimal("0.00001"), 0.5, Decimal("-1"), Decimal("NaN"),
                                   Decimal("500000")])
def test_tariff_price_refused(price) -> None:
    with pytest.raises(RecordError, match="price_per_kwh"):
        TariffRecord("000000000001", 1, price, 0, 0)


def test_decode_errors_name_record_and_field() -> None:
    good = PurchaseRecord("123456789012", 1, 1, CreditUnit.MONEY_CENTS, 1, 1).to_bytes()
    with pytest.raises(RecordError, match=r"PurchaseRecord\.length"):
        PurchaseRecord.from_bytes(good[:-1])
    with pytest.raises(RecordError, match=r"PurchaseRecord\.format_version"):
        PurchaseRecord.from_bytes(b"\x09" + good[1:])
    with pytest.raises(RecordError, match=r"PurchaseRecord\.meter_no"):
        PurchaseRecord.from_bytes(good[:1] + b"\x1a" + good[2:])
    with pytest.raises(RecordError, match=r"CardInfo\.card_type"):
        CardInfo.from_bytes(b"\x01\x09" + bytes(19))


def test_erased_is_none() -> None:
    assert PurchaseRecord.parse_optional(bytes(48)) is None
    assert ReadbackRecord.parse_optional(bytes(96)) is None
    rec = PurchaseRecord("123456789012", 1, 1, CreditUnit.MONEY_CENTS, 1, 1)
    assert PurchaseRecord.parse_optional(rec.to_bytes() + bytes(21)) == rec


def test_sign_verify_and_tamper() -> None:
    rec = PurchaseRecord("123456789012", 5, 10_000, CreditUnit.MONEY_CENTS, 1, 1).sign(KEY)
    assert rec.mac == mac(KEY, rec.to_bytes()[:-8])
    assert rec.verify(KEY) is rec
    with pytest.raises(MacError, match="123456789012"):
        rec.verify(OTHER_KEY)
    raw = bytearray(rec.to_bytes())
    raw[12] ^= 0x01  # one bit of the credit
    with pytest.raises(MacError):
        PurchaseRecord.from_bytes(bytes(raw)).verify(KEY)
    for r in (readback().sign(KEY),
              TariffRecord("000000000001", 1, Decimal("1.2"), 1, 0).sign(KEY)):
        r.verify(KEY)
        raw = bytearray(r.to_bytes())
        raw[-9] ^= 0x80  # last byte before the MAC
        with pytest.raises(MacError):
            type(r).from_bytes(bytes(raw)).verify(KEY)
    with pytest.raises(MacError):
        PurchaseRecord("123456789012", 5, 10_000, CreditUnit.MONEY_CENTS, 1, 1).verify(KEY)


def test_card_info_has_no_mac() -> None:
    with pytest.raises(RecordError):
        CardInfo(CardType.USER, "00" * 8, "123456789012", 1, 1).sign(KEY)


# --- hypothesis ------------------------------------------------------------------------------

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFF_FFFF)
meter = st.from_regex(r"\A[0-9]{12}\Z")
macs = st.binary(min_size=8, max_size=8)
units = st.sampled_from(CreditUnit)
stamps = st.integers(0, 0xFFFF_FFFF).map(lambda s: EPOCH + timedelta(seconds=s))

records = st.one_of(
    st.builds(CardInfo, st.sampled_from(CardType), st.binary(min_size=8, max_size=8).map(bytes.hex),
              meter, u8, u32),
    st.builds(PurchaseRecord, meter, u32, u32, units, u16, u8, macs),
    st.builds(TariffRecord, meter, u16, u32.map(lambda n: Decimal(n).scaleb(-4)), u32, u32, macs),
    st.builds(ReadbackRecord, meter, u32, u32, u32, u16, u32, u32, units, st.booleans(),
              st.booleans(), u16, u16, u16, u16, stamps, u16, u32, macs),
)


@given(records)
def test_round_trip(rec) -> None:
    raw = rec.to_bytes()
    assert len(raw) == type(rec).SIZE
    assert type(rec).from_bytes(raw) == rec
    assert type(rec).parse_optional(raw) == rec


@given(st.sampled_from([CardInfo, PurchaseRecord, TariffRecord, ReadbackRecord]),
       st.one_of(st.binary(max_size=80),
                 st.integers(21, 57).flatmap(lambda n: st.binary(min_size=n, max_size=n)
                                             .map(lambda b: b"\x01" + b[1:]))))
def test_from_bytes_fuzz_raises_only_record_error(cls, data) -> None:
    try:
        rec = cls.from_bytes(data)
    except RecordError:
        return
    assert rec.to_bytes() == data  # anything accepted is canonical
