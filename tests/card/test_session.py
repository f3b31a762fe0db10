"""Terminal session over the in-process transport, and trace redaction."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from rig.card import (
    ApduTrace,
    CardApplication,
    CardInfo,
    CardSession,
    CardType,
    CreditUnit,
    DirectTransport,
    PurchaseRecord,
    ReadbackRecord,
    RecordError,
    StatusWordError,
    TariffRecord,
)
from rig.card.apdu import INS_EXTERNAL_AUTHENTICATE, INS_INTERNAL_AUTHENTICATE, CommandApdu
from rig.card.session import ApduTransport

KEY = bytes(range(16))
INFO = CardInfo(CardType.USER, "0102030405060708", "123456789012", 1, 42)


def make_session() -> tuple[CardSession, ApduTrace, CardApplication]:
    app = CardApplication()
    trace = ApduTrace()
    return CardSession(DirectTransport(app, "meter slot"), trace), trace, app


def test_full_session_round_trip() -> None:
    s, trace, app = make_session()
    assert isinstance(s.transport, ApduTransport)
    assert s.read_purchase() is None and s.read_tariff() is None and s.read_readback() is None
    with pytest.raises(RecordError, match="CARD_INFO is erased"):
        s.read_info()
    purchase = PurchaseRecord("123456789012", 1, 5000, CreditUnit.MONEY_CENTS, 1, 1).sign(KEY)
    tariff = TariffRecord("123456789012", 1, Decimal("0.1500"), 500, 100).sign(KEY)
    rb = ReadbackRecord("123456789012", 10, 4000, 0, 1, 1, 5000, CreditUnit.MONEY_CENTS, False,
                        False, 0, 0, 0, 0, datetime(2024, 1, 1, tzinfo=UTC), 1).sign(KEY)
    s.write_info(INFO)
    s.write_purchase(purchase)
    s.write_tariff(tariff)
    written = s.write_readback(rb, KEY)
    assert written.readback_no == 1 and written.verify(KEY)
    assert s.read_info() == INFO
    assert s.read_purchase().verify(KEY) == purchase
    assert s.read_tariff() == tariff
    assert s.read_readback(KEY) == written
    s.clear_purchase()
    assert s.read_purchase() is None
    # a fresh terminal (power cycle) sees the same memory
    app.reset()
    assert CardSession(DirectTransport(app)).read_info() == INFO
    assert len(s.get_challenge()) == 8
    text = trace.to_text()
    assert "[meter slot] UPDATE BINARY EF 0102 offset 0" in text
    assert "SELECT AID F0524947505001" in text


def test_status_word_error_names_apdu() -> None:
    s, _, _ = make_session()
    with pytest.raises(StatusWordError) as ei:
        s.select_ef(0x0999)
    assert str(ei.value) == "SELECT EF 0999: SW 6A82 file not found"


def test_trace_redacts_authenticate_and_secret_apdus() -> None:
    trace = ApduTrace()
    secret = bytes.fromhex("DEADBEEFCAFEBABE1122334455667788")
    for ins in (INS_EXTERNAL_AUTHENTICATE, INS_INTERNAL_AUTHENTICATE):
        cmd = CommandApdu(0, ins, 0, 1, secret, le=16 if ins == INS_INTERNAL_AUTHENTICATE else None)
        trace.record(cmd.to_bytes(), secret + b"\x90\x00")
    flagged = CommandApdu(0, 0xD6, 0, 0, secret, name="UPDATE BINARY key file", secret=True)
    trace.record(flagged.to_bytes(), b"\x90\x00", name=flagged.name, secret=flagged.secret)
    trace.record(bytes.fromhex("00B0000004"), b"\x01\x02\x03\x04\x90\x00")
    text = trace.to_text()
    for e in trace.entries[:3]:
        assert secret not in e.command and secret not in e.response
        assert e.command_redacted == 16
    assert "DE AD BE EF" not in text and "deadbeef" not in text.lower()
    assert text.count("<redacted 16 bytes>") == 5  # 3 commands + 2 responses with data
    assert "EXTERNAL AUTHENTICATE" in text and "INTERNAL AUTHENTICATE" in text
    assert "01 02 03 04 90 00" in text  # non-secret data stays readable


def test_session_traces_flagged_secret_command() -> None:
    s, trace, _ = make_session()
    s.select_application()
    s.send(CommandApdu(0, 0xA4, 2, 0x0C, b"\x01\x04", name="SELECT secret", secret=True))
    assert "<redacted 2 bytes>" in trace.to_text()
    assert "01 04" not in trace.to_text().split("SELECT secret")[1]
