"""Reference frames of DL/T 645-2007, written out byte by byte from the standard's layout with
the checksum arithmetic shown, then checked against the codec and the client's wire bytes.

Meter 000000000001: A0..A5 = 01 00 00 00 00 00, so every header starts 68 01 00 00 00 00 00 68
and contributes 68 + 01 + 68 = D1 to the checksum. Data bytes are sent +33H; CS is the byte sum
mod 256 from the first 68 through the last data byte.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rig.meter.card_errors import CardErrorCode
from rig.meter.client import CardRefusals, Dlt645MeterClient
from rig.meter.dlt645 import data_ids
from rig.meter.dlt645.client import Dlt645Client, MeterAbnormalReply, RelayCommand
from rig.meter.dlt645.frame import Frame, decode_frame, encode_frame
from rig.meter.transcript import Transcript
from rig.profile import load_profile
from rig.testing import ScriptedSerial

ADDR = "000000000001"
WAKE = bytes.fromhex("FE FE FE FE")
MOMENT = dt.datetime(2024, 5, 17, 8, 30, 15)  # ss mm hh DD MM YY = 15 30 08 17 05 24

# 14 write 04001001 (alarm amount 1) = 50.00, password 02 000000, operator 00000000:
#   plain  01 10 00 04 | 02 00 00 00 | 00 00 00 00 | 00 50 00 00   (L = 16 = 10H)
#   +33H   34 43 33 37 | 35 33 33 33 | 33 33 33 33 | 33 83 33 33
#   CS = D1+14+10 = F5; E1 + CE + CC + 11C = 397; F5 + 397 = 48C -> 8C
WRITE_ALARM1 = WAKE + bytes.fromhex(
    "68 01 00 00 00 00 00 68 14 10 34 43 33 37 35 33 33 33 33 33 33 33 33 83 33 33 8C 16")
# 94 normal reply, no data: CS = D1 + 94 = 165 -> 65
WRITE_OK = bytes.fromhex("68 01 00 00 00 00 00 68 94 00 65 16")
# D4 abnormal reply, error word 04 (password) -> 37 on the wire: CS = D1+D4+01+37 = 1DD -> DD
WRITE_PASSWORD_ERROR = bytes.fromhex("68 01 00 00 00 00 00 68 D4 01 37 DD 16")

# 1C relay control, trip (N1 = 1A, N2 = 00), valid until 2024-05-17 08:30:15:
#   plain  02 00 00 00 | 00 00 00 00 | 1A 00 | 15 30 08 17 05 24   (L = 10H)
#   +33H   35 33 33 33 | 33 33 33 33 | 4D 33 | 48 63 3B 4A 38 57
#   CS = D1+1C+10 = FD; CE + CC + 80 + 1BF = 3D9; FD + 3D9 = 4D6 -> D6
RELAY_TRIP = WAKE + bytes.fromhex(
    "68 01 00 00 00 00 00 68 1C 10 35 33 33 33 33 33 33 33 4D 33 48 63 3B 4A 38 57 D6 16")
RELAY_OK = bytes.fromhex("68 01 00 00 00 00 00 68 9C 00 6D 16")  # CS = D1 + 9C = 16D -> 6D

# 08 broadcast time to 999999999999: CS = 68 + 6*99 + 68 + 08 + 06 = 474, data 1BF -> 633 -> 33
BROADCAST_TIME = WAKE + bytes.fromhex(
    "68 99 99 99 99 99 99 68 08 06 48 63 3B 4A 38 57 33 16")

# D1 abnormal read reply, error word 02 (no requested data) -> 35: CS = D1+D1+01+35 = 1D8 -> D8
READ_NO_DATA = bytes.fromhex("68 01 00 00 00 00 00 68 D1 01 35 D8 16")

# 12 read follow-up of DI 04800001, SEQ 01: plain 01 00 80 04 01 -> 34 33 B3 37 34 (L = 05)
#   CS = D1+12+05 = E8; 34+33+B3+37+34 = 185; E8 + 185 = 26D -> 6D
FOLLOWUP_1 = WAKE + bytes.fromhex("68 01 00 00 00 00 00 68 12 05 34 33 B3 37 34 6D 16")

# 11 read of 00900200 to the wildcard AAAAAAAAAAAA (point to point):
#   CS = 68 + 6*AA + 68 + 11 + 04 = 4E1; 33+35+C3+33 = 15E; 4E1 + 15E = 63F -> 3F
WILDCARD_READ = WAKE + bytes.fromhex("68 AA AA AA AA AA AA 68 11 04 33 35 C3 33 3F 16")

PASSWORD = bytes.fromhex("02000000")


@pytest.mark.parametrize(("raw", "frame"), [
    (WRITE_ALARM1, Frame(ADDR, 0x14, bytes.fromhex("01100004 02000000 00000000 00500000"))),
    (WRITE_OK, Frame(ADDR, 0x94)),
    (WRITE_PASSWORD_ERROR, Frame(ADDR, 0xD4, b"\x04")),
    (RELAY_TRIP, Frame(ADDR, 0x1C, bytes.fromhex("02000000 00000000 1A00 153008170524"))),
    (RELAY_OK, Frame(ADDR, 0x9C)),
    (BROADCAST_TIME, Frame("999999999999", 0x08, bytes.fromhex("153008170524"))),
    (READ_NO_DATA, Frame(ADDR, 0xD1, b"\x02")),
    (FOLLOWUP_1, Frame(ADDR, 0x12, bytes.fromhex("01008004 01"))),
    (WILDCARD_READ, Frame("AAAAAAAAAAAA", 0x11, bytes.fromhex("00029000"))),
])
def test_reference_frame_bytes(raw: bytes, frame: Frame) -> None:
    preamble = 4 if raw.startswith(WAKE) else 0
    assert encode_frame(frame, preamble) == raw
    assert decode_frame(raw) == frame


def test_client_sends_the_reference_write_relay_and_broadcast_frames() -> None:
    port = ScriptedSerial([(WRITE_ALARM1, WRITE_OK), (WRITE_ALARM1, WRITE_PASSWORD_ERROR),
                           (RELAY_TRIP, RELAY_OK), (BROADCAST_TIME, b"")])
    client = Dlt645Client(port, ADDR, timeout=0.2)  # type: ignore[arg-type]
    client.write(data_ids.ALARM_AMOUNT_1, Decimal("50.00"), password=PASSWORD)
    with pytest.raises(MeterAbnormalReply) as refused:
        client.write(data_ids.ALARM_AMOUNT_1, Decimal("50.00"), password=PASSWORD)
    assert refused.value.error_word == 0x04 and refused.value.reasons == [
        "password error / unauthorised"]
    client.relay_control(RelayCommand.TRIP, password=PASSWORD, valid_until=MOMENT)
    client.broadcast_time(MOMENT)
    port.assert_done()


def test_abnormal_read_names_frame_and_fault_and_is_not_retried() -> None:
    request = WAKE + bytes.fromhex("68 01 00 00 00 00 00 68 11 04 33 35 C3 33 44 16")
    port = ScriptedSerial([(request, READ_NO_DATA)])
    client = Dlt645Client(port, ADDR, timeout=0.2, retries=2)  # type: ignore[arg-type]
    with pytest.raises(MeterAbnormalReply, match=r"C=11 DI=00900200 to meter 000000000001: "
                                                 r"abnormal reply C=D1 error word 02 "
                                                 r"\(no requested data\)"):
        client.read(data_ids.REMAINING_AMOUNT)
    port.assert_done()


def test_wildcard_client_reads_whoever_answers() -> None:
    # Reply 91 from the real address, 12.34 yuan: data 00 02 90 00 34 12 00 00 (+33H:
    # 33 35 C3 33 67 45 33 33), L = 08: CS = D1+91+08 = 16A; 15E + 67+45+33+33 = 15E + 112
    # = 270; 16A + 270 = 3DA -> DA
    reply = bytes.fromhex("68 01 00 00 00 00 00 68 91 08 33 35 C3 33 67 45 33 33 DA 16")
    port = ScriptedSerial([(WILDCARD_READ, reply)])
    client = Dlt645Client(port, "AAAAAAAAAAAA", timeout=0.2)  # type: ignore[arg-type]
    assert client.read(data_ids.REMAINING_AMOUNT) == Decimal("12.34")
    port.assert_done()


# --- value codecs of the event and purchase records --------------------------------------


def test_event_record_values_exact_bytes() -> None:
    # 03110001 power-down record: start 2024-05-17 08:30:15, end 2024-05-17 09:00:00,
    # each YYMMDDhhmmss sent ss first: 15 30 08 17 05 24 | 00 00 09 17 05 24
    raw = data_ids.encode_value(data_ids.LAST_POWER_DOWN_RECORD, ("240517083015", MOMENT
                                                                  + dt.timedelta(seconds=1785)))
    assert raw == bytes.fromhex("15 30 08 17 05 24 00 00 09 17 05 24")
    assert data_ids.decode_value(data_ids.LAST_POWER_DOWN_RECORD, raw) == (
        "240517083015" "240517090000")
    # 03300D01 cover-open record still open: end all zeros, then 12 zero-filled energies.
    cover = data_ids.encode_value(data_ids.LAST_COVER_OPEN_RECORD, (MOMENT, None))
    assert cover == bytes.fromhex("15 30 08 17 05 24") + bytes(54)
    assert data_ids.decode_value(data_ids.LAST_COVER_OPEN_RECORD, cover).endswith("0" * 12)
    # 03330101 last purchase date YYMMDDhhmm: 30 08 17 05 24
    assert data_ids.encode_value(data_ids.LAST_PURCHASE_DATE, MOMENT) == bytes.fromhex(
        "30 08 17 05 24")
    assert data_ids.encode_value(data_ids.COVER_OPEN_COUNT, 123) == bytes.fromhex("23 01 00")


@pytest.mark.parametrize("bad", [("241317083015", None), ("x", None), "240517083015"])
def test_event_record_refuses_bad_values(bad: object) -> None:
    with pytest.raises(data_ids.DataFormatError, match="last cover-open record"):
        data_ids.encode_value(data_ids.LAST_COVER_OPEN_RECORD, bad)


@given(start=st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2099, 12, 31)),
       length=st.one_of(st.none(), st.integers(0, 10**8)))
def test_span_record_round_trip(start: dt.datetime, length: int | None) -> None:
    start = start.replace(microsecond=0)
    end = None if length is None else start + dt.timedelta(seconds=length)
    if end is not None and end.year > 2099:
        return
    for di in (data_ids.LAST_POWER_DOWN_RECORD, data_ids.LAST_COVER_OPEN_RECORD):
        text = data_ids.decode_value(di, data_ids.encode_value(di, (start, end)))
        assert text[:12] == start.strftime("%y%m%d%H%M%S")
        assert text[12:] == (end.strftime("%y%m%d%H%M%S") if end else "000000000000")


# --- abnormal (refused) card insertions: 03301300 count, 03301301.. records, 03301400 -------
# 11 read of 03301300 (abnormal card insertion count): DI 00 13 30 03 -> 33 46 63 36
#   CS = D1+11+04 = E6; 33+46+63+36 = 112; E6 + 112 = 1F8 -> F8
READ_CARD_COUNT = WAKE + bytes.fromhex("68 01 00 00 00 00 00 68 11 04 33 46 63 36 F8 16")
# 91 reply, count 2 (XXXXXX: 02 00 00 -> 35 33 33), L = 07:
#   CS = D1+91+07 = 169; 112 + 35+33+33 = 1AD; 169 + 1AD = 316 -> 16
CARD_COUNT_2 = bytes.fromhex("68 01 00 00 00 00 00 68 91 07 33 46 63 36 35 33 33 16 16")
# 11 read of 03301301 (last abnormal card record): DI 01 13 30 03 -> 34 46 63 36
#   CS = E6 + (34+46+63+36 = 113) = 1F9 -> F9
READ_CARD_RECORD = WAKE + bytes.fromhex("68 01 00 00 00 00 00 68 11 04 34 46 63 36 F9 16")
# 91 reply, L = 4 + 36 = 28H. The record, each field least significant byte first:
#   time 2024-05-17 08:30:15        15 30 08 17 05 24          sum 8D
#   card serial C0FFEE0000000042    42 00 00 00 00 EE FF C0    sum 2EF
#   error word 06 (external authentication error)   06
#   command header 00 82 00 02 08 (EXTERNAL AUTHENTICATE, key 02, Lc 8)  08 02 00 82 00  sum 8C
#   response status 63C2            C2 63                      sum 125
#   purchase count 3 (XXXX)         03 00
#   remaining 12.34                 34 12 00 00                sum 46
#   forward energy 1.50 kWh         50 01 00 00                sum 51
#   reverse energy 0                00 00 00 00
#   plain sum with the DI (47): 47+8D+2EF+06+8C+125+03+46+51 = 614; +33H x 28H = 7F8 -> E0C
#   CS = D1+91+28 = 18A; 18A + E0C = F96 -> 96
CARD_RECORD = bytes.fromhex(
    "68 01 00 00 00 00 00 68 91 28 34 46 63 36 48 63 3B 4A 38 57 75 33 33 33 33 21 32 F3"
    " 39 3B 35 33 B5 33 F5 96 36 33 67 45 33 33 83 34 33 33 33 33 33 33 96 16")
RECORD = data_ids.AbnormalCardRecord(
    at="240517083015", card_serial="C0FFEE0000000042", error=6,
    command_header=bytes.fromhex("00 82 00 02 08"), response_status=0x63C2, purchase_count=3,
    remaining=Decimal("12.34"), forward_energy=Decimal("1.50"), reverse_energy=Decimal(0))
# 11 read of 03301400 (illegal card insertion count): DI 00 14 30 03 -> 33 47 63 36
#   CS = E6 + (33+47+63+36 = 113) = 1F9 -> F9
READ_ILLEGAL_COUNT = WAKE + bytes.fromhex("68 01 00 00 00 00 00 68 11 04 33 47 63 36 F9 16")
# 91 reply, count 1 (01 00 00 -> 34 33 33): CS = 169 + (113 + 34+33+33 = 1AD) = 316 -> 16
ILLEGAL_COUNT_1 = bytes.fromhex("68 01 00 00 00 00 00 68 91 07 33 47 63 36 34 33 33 16 16")


@pytest.mark.parametrize(("raw", "frame"), [
    (READ_CARD_COUNT, Frame(ADDR, 0x11, bytes.fromhex("00133003"))),
    (CARD_COUNT_2, Frame(ADDR, 0x91, bytes.fromhex("00133003 020000"))),
    (READ_CARD_RECORD, Frame(ADDR, 0x11, bytes.fromhex("01133003"))),
    (CARD_RECORD, Frame(ADDR, 0x91, bytes.fromhex(
        "01133003 153008170524 4200000000EEFFC0 06 0802008200 C263 0300 34120000 50010000"
        " 00000000"))),
    (READ_ILLEGAL_COUNT, Frame(ADDR, 0x11, bytes.fromhex("00143003"))),
    (ILLEGAL_COUNT_1, Frame(ADDR, 0x91, bytes.fromhex("00143003 010000"))),
])
def test_abnormal_card_reference_frame_bytes(raw: bytes, frame: Frame) -> None:
    preamble = 4 if raw.startswith(WAKE) else 0
    assert encode_frame(frame, preamble) == raw
    assert decode_frame(raw) == frame


def test_abnormal_card_record_value_bytes() -> None:
    raw = data_ids.encode_value(data_ids.LAST_ABNORMAL_CARD_RECORD, RECORD)
    assert raw == decode_frame(CARD_RECORD).data[4:]
    assert data_ids.decode_value(data_ids.LAST_ABNORMAL_CARD_RECORD + 9, raw) == RECORD


def test_client_reads_refused_card_count_record_and_illegal_count() -> None:
    port = ScriptedSerial([(READ_CARD_COUNT, CARD_COUNT_2), (READ_CARD_RECORD, CARD_RECORD),
                           (READ_ILLEGAL_COUNT, ILLEGAL_COUNT_1)])
    client = Dlt645Client(port, ADDR, timeout=0.2)  # type: ignore[arg-type]
    assert client.read(data_ids.ABNORMAL_CARD_COUNT) == 2
    record = client.read(data_ids.LAST_ABNORMAL_CARD_RECORD)
    assert record == RECORD
    assert isinstance(record, data_ids.AbnormalCardRecord)
    assert record.occurred == dt.datetime(2024, 5, 17, 8, 30, 15)
    assert record.reason is CardErrorCode.EXTERNAL_AUTHENTICATION_ERROR
    assert client.read(data_ids.ILLEGAL_CARD_COUNT) == 1
    port.assert_done()


def test_meter_client_reports_refusals_from_the_reference_frames() -> None:
    """The protocol-neutral view: count, last time (tz attached), reason, illegal count."""
    port = ScriptedSerial([(READ_CARD_COUNT, CARD_COUNT_2), (READ_ILLEGAL_COUNT, ILLEGAL_COUNT_1),
                           (READ_CARD_RECORD, CARD_RECORD)])
    meter = Dlt645MeterClient(load_profile("dlt645-1p-money"),
                              Dlt645Client(port, ADDR, timeout=0.2),  # type: ignore[arg-type]
                              Transcript(), dt.UTC)
    assert meter.card_refusals() == CardRefusals(
        count=2, last_at=dt.datetime(2024, 5, 17, 8, 30, 15, tzinfo=dt.UTC),
        last_reason=CardErrorCode.EXTERNAL_AUTHENTICATION_ERROR, illegal=1, last_record=RECORD)
    port.assert_done()


def test_meter_client_without_refusals_reads_no_record() -> None:
    # counts 0 (00 00 00 -> 33 33 33): CS = 169 + 112 + 99 = 314 -> 14 and 169 + 113 + 99 -> 15
    count_0 = bytes.fromhex("68 01 00 00 00 00 00 68 91 07 33 46 63 36 33 33 33 14 16")
    illegal_0 = bytes.fromhex("68 01 00 00 00 00 00 68 91 07 33 47 63 36 33 33 33 15 16")
    port = ScriptedSerial([(READ_CARD_COUNT, count_0), (READ_ILLEGAL_COUNT, illegal_0)])
    meter = Dlt645MeterClient(load_profile("dlt645-1p-money"),
                              Dlt645Client(port, ADDR, timeout=0.2),  # type: ignore[arg-type]
                              Transcript(), None)
    assert meter.card_refusals() == CardRefusals(0, None, None, 0)
    port.assert_done()
