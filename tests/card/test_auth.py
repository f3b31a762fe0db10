"""Access conditions and authentication: who may update which EF, try counters, redaction."""

from __future__ import annotations

import pytest

from rig.card.apdu import CardNotGenuineError, StatusWordError
from rig.card.application import (
    FID_KEYS,
    FID_PURCHASE,
    FID_READBACK,
    KEY_METER,
    KEY_STATION,
    CardApplication,
)
from rig.card.keys import (
    auth_cryptogram,
    derive_card_key,
    derive_readback_key,
    internal_auth_cryptogram,
)
from rig.card.records import CardInfo, CardType
from rig.card.session import CardSession, DirectTransport
from rig.card.trace import ApduTrace
from rig.card_formats.interface import CardKind
from rig.faults.card_world import MASTER, NOW, OTHER_MASTER, SERIAL, make_world, registers


def run(app: CardApplication, hexapdu: str) -> str:
    return app.process(bytes.fromhex(hexapdu)).hex().upper()


def keys(meter_key: bytes) -> tuple[bytes, bytes]:
    return derive_card_key(MASTER, SERIAL, 1), derive_readback_key(meter_key, SERIAL)


def session(app: CardApplication) -> CardSession:
    app.reset()
    s = CardSession(DirectTransport(app))
    s.select_application()
    return s


def test_personalised_card_needs_the_right_key_for_each_ef() -> None:
    w = make_world()
    card_key, rb_key = keys(w.meter_key())
    s = session(w.card)
    assert s.read_info().card_serial == SERIAL  # reading is free
    for fid in (FID_PURCHASE, FID_READBACK, FID_KEYS):
        with pytest.raises(StatusWordError, match="6982 security status not satisfied"):
            s.write_ef(fid, b"\x01")
    with pytest.raises(StatusWordError, match="6982"):
        s.read_ef(FID_KEYS, 1)  # keys never leave the card
    s.authenticate(KEY_STATION, card_key, SERIAL)
    s.write_ef(FID_PURCHASE, b"\x00")
    with pytest.raises(StatusWordError, match="6982"):
        s.write_ef(FID_READBACK, b"\x00")  # the station cannot forge a readback
    s.authenticate(KEY_METER, rb_key, SERIAL)
    s.write_ef(FID_READBACK, b"\x00")
    with pytest.raises(StatusWordError, match="6982"):
        s.write_ef(FID_PURCHASE, b"\x00")  # the meter cannot write credit
    s.select_application()  # re-selecting (or a reset) drops the security state
    with pytest.raises(StatusWordError, match="6982"):
        s.write_ef(FID_READBACK, b"\x00")


def test_wrong_cryptogram_counts_down_then_blocks() -> None:
    w = make_world()
    card_key, _ = keys(w.meter_key())
    s = session(w.card)
    wrong = bytes(16)
    for left in (2, 1):
        with pytest.raises(StatusWordError, match=f"63C{left} wrong cryptogram, {left} tries"):
            s.authenticate(KEY_STATION, wrong, SERIAL)
    s.authenticate(KEY_STATION, card_key, SERIAL)  # success restores the counter
    assert w.card.tries[KEY_STATION] == 3
    for left in (2, 1, 0):
        with pytest.raises(StatusWordError, match=f"63C{left}"):
            s.authenticate(KEY_STATION, wrong, SERIAL)
    with pytest.raises(StatusWordError, match="6983 authentication method blocked"):
        s.authenticate(KEY_STATION, card_key, SERIAL)
    assert w.card.tries[KEY_METER] == 3  # the other key is unaffected
    restored = CardApplication.from_dict(w.card.to_dict())  # the block survives power cycles
    assert restored.tries[KEY_STATION] == 0


def test_external_authenticate_status_words() -> None:
    w = make_world()
    app = w.card
    app.reset()
    assert run(app, "00A4040007F0524947505001") == "9000"
    assert run(app, "0082000108" + "00" * 8) == "6985"  # no challenge
    assert run(app, "0082000308" + "00" * 8) == "6A88"  # no such key
    assert run(app, "0082010108" + "00" * 8) == "6A86"
    assert run(app, "00820001040000000000") == "6700"
    assert len(run(app, "0084000008")) == 20
    assert run(app, "0082000108" + "00" * 8) == "63C2"
    assert run(app, "0082000108" + "00" * 8) == "6985"  # one attempt per challenge


def test_internal_authenticate_proves_the_card_holds_its_key() -> None:
    w = make_world()
    app = w.card
    card_key, rb_key = keys(w.meter_key())
    rnd = bytes.fromhex("0102030405060708")
    app.reset()
    assert run(app, "0088000108" + rnd.hex() + "08") == "6985"  # application not selected
    assert run(app, "00A4040007F0524947505001") == "9000"
    answer = run(app, "0088000108" + rnd.hex() + "08")
    assert answer == internal_auth_cryptogram(card_key, rnd, bytes.fromhex(SERIAL), 1).hex(
        ).upper() + "9000"
    assert run(app, "0088000208" + rnd.hex() + "08")[:16] == internal_auth_cryptogram(
        rb_key, rnd, bytes.fromhex(SERIAL), 2).hex().upper()
    assert run(app, "0088000308" + rnd.hex() + "08") == "6A88"  # no such key
    assert run(app, "0088010108" + rnd.hex() + "08") == "6A86"
    assert run(app, "0088000108" + rnd.hex()) == "6700"  # no Le
    assert run(app, "00880001040102030408") == "6700"  # challenge not 8 bytes
    assert run(app, "00880000") == "6700"
    # free, burns no try, opens nothing
    assert app.tries == {KEY_STATION: 3, KEY_METER: 3} and app.authenticated is None
    with pytest.raises(StatusWordError, match="6A88"):
        session(CardApplication()).authenticate_card(KEY_STATION, card_key, SERIAL)


def test_card_answer_cannot_be_reflected_as_the_terminal_proof() -> None:
    """Someone without the key asks the card to answer its own challenge: the card's INTERNAL
    answer is under another label, so replayed as EXTERNAL cryptogram it is refused."""
    w = make_world()
    s = session(w.card)
    challenge = s.get_challenge()
    card_key, _ = keys(w.meter_key())
    reflected = run(w.card, "0088000108" + challenge.hex() + "08")[:16]
    assert reflected != auth_cryptogram(card_key, challenge, bytes.fromhex(SERIAL), 1).hex()
    assert run(w.card, "0082000108" + reflected) == "63C2"
    assert w.card.authenticated is None


def test_station_refuses_a_copied_card_before_trusting_it() -> None:
    """A card with a genuine card's readable files but not its keys: the station's INTERNAL
    AUTHENTICATE unmasks it; nothing is written, no vend marked written."""
    w = make_world()
    clone = CardApplication()
    s = session(clone)
    for fid, size in ((0x0101, 32), (0x0102, 48), (0x0103, 48), (0x0104, 128)):
        s.write_ef(fid, w.card.read_ef(fid)[:size])
    s.load_keys(bytes(range(16)), bytes(range(16, 32)))  # whatever the copier chose
    s.activate()
    w.card = clone
    before = clone.to_dict()
    with pytest.raises(CardNotGenuineError, match=f"card {SERIAL} failed INTERNAL "
                                                  "AUTHENTICATE with key 01"):
        w.station.write_vend(w.slot(), w.vend(1, 1000))
    assert w.ledger.written == [] and w.station.billing.written == []
    assert clone.to_dict() == before


def test_activation_needs_info_and_keys() -> None:
    app = CardApplication()
    s = session(app)
    with pytest.raises(StatusWordError, match="6985"):
        s.activate()
    s.write_info(CardInfo(CardType.USER, SERIAL, "000000001001", 1, 1))
    with pytest.raises(StatusWordError, match="6985"):
        s.activate()
    s.load_keys(bytes(range(16)), bytes(range(1, 17)))
    s.activate()
    with pytest.raises(StatusWordError, match="6982"):
        s.write_info(CardInfo(CardType.USER, SERIAL, "000000001002", 1, 1))


def test_station_trace_redacts_keys_and_cryptograms() -> None:
    w = make_world(personalise=False)
    w.station.trace = trace = ApduTrace()
    w.station.personalise(w.slot(), card_serial=SERIAL, meter_no=w.meter_no, key_revision=1)
    w.station.write_vend(w.slot(), w.vend(1, 1000))
    card_key, rb_key = keys(w.meter_key())
    text = trace.to_text()
    assert "EXTERNAL AUTHENTICATE key 01" in text and "<redacted 8 bytes>" in text
    assert "UPDATE BINARY EF 0100 offset 0" in text and "<redacted 32 bytes>" in text
    for secret in (card_key, rb_key, w.meter_key()):
        for e in trace.entries:
            assert secret[:8] not in e.command and secret[:8] not in e.response
        assert secret[:4].hex(" ").upper() not in text


def test_meter_of_another_utility_cannot_write_readback() -> None:
    """A check card carries no MAC'd record, so only the readback key stops a foreign meter."""
    w = make_world(personalise=False, master=OTHER_MASTER)
    w.station.personalise(w.slot(), card_serial=SERIAL, meter_no=w.meter_no, key_revision=1,
                          kind=CardKind.CHECK)
    before = registers(w.engine)
    outcome = w.terminal.insert(w.slot(), NOW)
    assert not outcome.accepted
    assert "card authentication failed" in outcome.message and "63C2" in outcome.message
    assert registers(w.engine) == before
    assert session(w.card).read_readback() is None
