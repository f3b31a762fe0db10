"""Fuzzing every decoder of the rig: any input yields a value or the decoder's own typed error
(rig.errors: ProtocolError, CardError, InstrumentError), never another exception or a hang.

Inputs are driven through the same entry points the rig uses (the protocol clients on a
scripted port, the card session on a scripted transport, the load driver on a scripted VISA
instrument), so a crash anywhere between bytes and value is found, not only in the parsers.
"""

from __future__ import annotations

import contextlib
import os
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rig.card import apdu as A
from rig.card import records as R
from rig.errors import CardError, InstrumentError, ProtocolError
from rig.faults.card_world import make_world, registers
from rig.load.dialects import get_dialect, match_dialect
from rig.load.driver import ElectronicLoad, Identity
from rig.meter.client import CardRefusals, Dlt645MeterClient
from rig.meter.dlt645 import data_ids
from rig.meter.dlt645.client import Dlt645Client
from rig.meter.dlt645.frame import Frame, FrameParser, decode_frame, encode_frame
from rig.meter.iec62056 import frames as iec
from rig.meter.iec62056.client import Iec62056Client
from rig.meter.transcript import Transcript
from rig.profile import load_profile

# Modest in the default suite; RIG_FUZZ_EXAMPLES=5000 for a long fuzzing session.
FUZZ = settings(max_examples=int(os.environ.get("RIG_FUZZ_EXAMPLES", "60")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
ADDR = "000000001001"
NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


class ReplyPort:
    """A serial port that answers each write with the next scripted reply, then silence."""

    def __init__(self, replies: list[bytes]) -> None:
        self.replies = list(replies)
        self._rx = bytearray()
        self.timeout: float | None = 0.0
        self.baudrate = 300

    def write(self, data: bytes) -> int:
        if self.replies:
            self._rx += self.replies.pop(0)
        return len(data)

    @property
    def in_waiting(self) -> int:
        return len(self._rx)

    def read(self, size: int = 1) -> bytes:
        out = bytes(self._rx[:size])
        del self._rx[:size]
        return out

    def reset_input_buffer(self) -> None:
        self._rx.clear()

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


# -- DL/T 645 -------------------------------------------------------------------------------
registered = st.sampled_from(sorted(data_ids.REGISTRY))


@FUZZ
@given(st.binary(max_size=260))
def test_dlt645_frame_decoder(raw: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        assert isinstance(decode_frame(raw), Frame)
    parser = FrameParser()
    assert all(isinstance(f, Frame) for f in parser.feed(raw))


@FUZZ
@given(registered, st.binary(max_size=40))
def test_dlt645_value_decoder(di: int, data: bytes) -> None:
    try:
        value = data_ids.decode_value(di, data)
    except ProtocolError:
        return
    assert isinstance(value, Decimal | int | str | data_ids.AbnormalCardRecord)


card_records = st.sampled_from([data_ids.LAST_ABNORMAL_CARD_RECORD + i
                                for i in range(data_ids.ABNORMAL_CARD_RECORDS)])
_bcd = st.lists(st.integers(0, 99), min_size=14, max_size=14).map(
    lambda digits: bytes(int(str(n), 16) for n in digits))
# Mostly well-formed records (valid time, BCD registers, any serial/code/header/SW) so the
# decoder gets past its checks; the rest is any 36 bytes.
record_bytes = st.one_of(
    st.binary(min_size=36, max_size=36),
    st.tuples(st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31)),
              st.binary(min_size=16, max_size=16), _bcd).map(
        lambda t: data_ids.datetime_to_wire(t[0]) + t[1] + t[2]))


@FUZZ
@given(card_records, record_bytes)
def test_dlt645_abnormal_card_record_decoder(di: int, data: bytes) -> None:
    """Any 36 bytes: a record that re-encodes to the same bytes, or DataFormatError."""
    try:
        value = data_ids.decode_value(di, data)
    except ProtocolError:
        return
    assert isinstance(value, data_ids.AbnormalCardRecord)
    assert data_ids.encode_value(di, value) == data


counts = st.one_of(st.lists(st.integers(0, 99), min_size=3, max_size=3).map(
    lambda digits: bytes(int(str(n), 16) for n in digits)), st.binary(max_size=4))


@FUZZ
@given(counts, counts, st.one_of(record_bytes, st.binary(max_size=40)))
def test_meter_client_card_refusals_any_replies(count: bytes, illegal: bytes,
                                                record: bytes) -> None:
    """The protocol-neutral refusal read over replies carrying any value bytes."""
    replies = [encode_frame(Frame(ADDR, 0x91, data_ids.di_to_bytes(di) + value))
               for di, value in ((data_ids.ABNORMAL_CARD_COUNT, count),
                                 (data_ids.ILLEGAL_CARD_COUNT, illegal),
                                 (data_ids.LAST_ABNORMAL_CARD_RECORD, record))]
    port = ReplyPort(replies)
    meter = Dlt645MeterClient(load_profile("dlt645-1p-money"),
                              Dlt645Client(port, ADDR, timeout=0.01, retries=0),  # type: ignore[arg-type]
                              Transcript(), UTC)
    try:
        seen = meter.card_refusals()
    except ProtocolError:
        return
    assert isinstance(seen, CardRefusals) and seen.count >= 0
    assert (seen.last_record is None) == (seen.last_at is None)


@FUZZ
@given(registered, st.binary(max_size=40), st.integers(0, 255), st.booleans())
def test_dlt645_client_read_any_reply(di: int, value: bytes, control: int, echo: bool) -> None:
    """A framed reply with any control code and value bytes (the meter may be anything)."""
    data = (data_ids.di_to_bytes(di) if echo else b"") + value
    reply = encode_frame(Frame(ADDR, control, data))
    client = Dlt645Client(ReplyPort([reply]), ADDR, timeout=0.01, retries=0)  # type: ignore[arg-type]
    with contextlib.suppress(ProtocolError):
        client.read(di)


@FUZZ
@given(st.binary(max_size=120))
def test_dlt645_client_read_any_bytes(reply: bytes) -> None:
    client = Dlt645Client(ReplyPort([reply]), ADDR, timeout=0.01, retries=0)  # type: ignore[arg-type]
    with contextlib.suppress(ProtocolError):
        client.read(data_ids.REMAINING_AMOUNT)


# -- IEC 62056-21 ---------------------------------------------------------------------------
@FUZZ
@given(st.binary(max_size=300), st.booleans())
def test_iec_message_reader(raw: bytes, ack_starts_line: bool) -> None:
    reader = iec.MessageReader(ack_starts_line=ack_starts_line)
    with contextlib.suppress(ProtocolError):
        assert all(isinstance(m, bytes) for m in reader.feed(raw))


@FUZZ
@given(st.binary(max_size=80))
def test_iec_message_parsers(raw: bytes) -> None:
    for parse in (iec.parse_identification, iec.block_text, iec.strip_even_parity):
        with contextlib.suppress(ProtocolError):
            parse(raw)
    with contextlib.suppress(ProtocolError):
        iec.parse_datasets(raw.decode("latin-1"))


@FUZZ
@given(st.text(max_size=120))
def test_iec_dataset_parser_any_text(text: str) -> None:
    with contextlib.suppress(ProtocolError):
        assert all(isinstance(d, iec.DataSet) for d in iec.parse_datasets(text))


ascii_lines = st.lists(st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
                      max_size=4)


def _mutate(msg: bytes, at: int, byte: int) -> bytes:
    return msg[:at % len(msg)] + bytes([byte]) + msg[at % len(msg) + 1:]


iec_bodies = st.one_of(
    ascii_lines.map(iec.readout),  # well framed, any content
    st.tuples(ascii_lines.map(iec.readout), st.integers(0, 255), st.integers(0, 255))
    .map(lambda t: _mutate(*t)),  # one byte changed on the line
    st.binary(max_size=120))


@FUZZ
@given(st.one_of(st.just(b"/RIG5PP1E\r\n"), st.binary(max_size=40)), iec_bodies,
       st.booleans())
def test_iec_client_readout_any_reply(ident: bytes, body: bytes, software_parity: bool) -> None:
    port = ReplyPort([ident, body])
    client = Iec62056Client(port, ADDR, timeout=0.01, retries=0,  # type: ignore[arg-type]
                            software_parity=software_parity)
    client._readout_timeout = lambda rate: 0.01  # type: ignore[method-assign]
    with contextlib.suppress(ProtocolError):
        assert isinstance(client.readout(), dict)


@FUZZ
@given(st.binary(max_size=60))
def test_iec_client_programming_any_reply(reply: bytes) -> None:
    p0 = iec.command("P", "0", "(1234)")
    port = ReplyPort([b"/RIG5PP1E\r\n", p0, reply])
    client = Iec62056Client(port, ADDR, timeout=0.01, retries=0)  # type: ignore[arg-type]
    with contextlib.suppress(ProtocolError):
        client.open_programming()
        client.read("C.1.0")


# -- card: APDU responses and records ---------------------------------------------------------
class ScriptedCard:
    """A card answering APDUs with the scripted responses, then the last one for ever (a
    card stuck on one answer must not keep a decoder looping), or gone if none is given."""

    def __init__(self, responses: list[bytes]) -> None:
        self.responses = list(responses)
        self.count = 0

    def transmit(self, apdu: bytes) -> bytes:
        self.count += 1
        assert self.count < 1000, "the decoder keeps asking a card that keeps answering"
        if not self.responses:
            raise A.CardRemovedError("the card is gone")
        return self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]


responses = st.lists(st.one_of(st.binary(max_size=70), st.binary(max_size=68).map(
    lambda b: b + b"\x90\x00")), max_size=12)


@FUZZ
@given(st.binary(max_size=8))
def test_apdu_response_split(raw: bytes) -> None:
    try:
        data, sw1, sw2 = A.split_response(raw)
    except CardError:
        return
    assert data + bytes([sw1, sw2]) == raw
    assert A.sw_meaning((sw1 << 8) | sw2)


@FUZZ
@given(responses)
def test_card_session_reads_any_responses(script: list[bytes]) -> None:
    from rig.card.session import CardSession

    for read in ("read_info", "read_purchase", "read_tariff", "readback_slots", "read_readback"):
        session = CardSession(ScriptedCard(script))
        with contextlib.suppress(CardError):
            getattr(session, read)()


@FUZZ
@given(responses)
def test_meter_terminal_survives_any_card(script: list[bytes]) -> None:
    """The meter never crashes on a card, and a card it refuses changes no register."""
    w = make_world(personalise=False)
    before = registers(w.engine)
    outcome = w.terminal.insert(ScriptedCard(script), NOW)
    if not outcome.accepted:
        assert registers(w.engine) == before


RECORDS = [R.CardInfo, R.PurchaseRecord, R.TariffRecord, R.ReadbackRecord, R.ParameterRecord,
           R.ClearRecord, R.KeyChangeRecord]


@FUZZ
@given(st.sampled_from(RECORDS), st.binary(max_size=140), st.booleans())
def test_card_record_decoders(cls: type, raw: bytes, versioned: bool) -> None:
    data = b"\x01" + raw[1:] if versioned and raw else raw  # past the version check, often
    try:
        rec = cls.from_bytes(data)
    except CardError:
        return
    assert rec.to_bytes() == data  # anything accepted is canonical
    with contextlib.suppress(CardError):
        cls.parse_optional(data)


# -- SCPI replies -----------------------------------------------------------------------------
class QueuedReplies:
    """A VISA resource stand-in answering every query with the next of its lines (no
    expectations on what is written: the fuzzer only varies the replies)."""

    def __init__(self, replies: list[str]) -> None:
        self.replies = list(replies)
        self.timeout = 1000

    def write(self, command: str) -> None:
        pass

    def read(self) -> str:
        if not self.replies:
            raise TimeoutError("VI_ERROR_TMO")
        return self.replies.pop(0)

    def close(self) -> None:
        pass


scpi_lines = st.lists(st.one_of(
    st.text(max_size=30),
    st.sampled_from(["0,\"No error\"", "-222,\"Data out of range\"", "1", "ON", "NaN",
                     "9.91E37", "inf", "1e999999999", "-0", "+0,\"No error\""]),
    st.decimals(allow_nan=True, allow_infinity=True).map(str)), max_size=6)


@FUZZ
@given(st.sampled_from(["rig-sim", "chroma-63800", "keysight-n3300"]), scpi_lines)
def test_load_driver_any_replies(dialect: str, replies: list[str]) -> None:
    for op in ("measure", "input_state", "next_error", "errors", "identify", "energy_wh",
               "measure_power_factor", "input_on"):
        load = ElectronicLoad(QueuedReplies(replies), get_dialect(dialect),
                              resource="TCPIP0::fuzz::SOCKET")
        try:
            value = getattr(load, op)()
        except InstrumentError:
            continue
        if op == "measure":
            assert all(v.is_finite() for v in (value.voltage, value.current, value.power))
        if op in ("energy_wh", "measure_power_factor"):
            assert value.is_finite()


@FUZZ
@given(st.text(max_size=60))
def test_idn_decoders(idn: str) -> None:
    assert isinstance(Identity.parse(idn), Identity)
    with contextlib.suppress(InstrumentError):
        match_dialect(idn, resource="TCPIP0::fuzz::SOCKET")
