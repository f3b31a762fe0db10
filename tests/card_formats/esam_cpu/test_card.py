"""The virtual esam-cpu card through real pcscd + vpcd (raw APDUs, status words per ISO
7816-4 as docs/card-formats/esam-cpu.md tables them), its saved image, the trace's
redaction of keys and cryptograms, the readback the centre verifies, and the errors a lab
meets when it configures the format wrongly."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from rig.billing.readback_check import decode, verify_mac
from rig.billing.readback_keys import ReadbackKeyService
from rig.card.keys import lab_test_key
from rig.card.pcsc import PcscConnection, PcscReader
from rig.card.trace import ApduTrace, TracedTransport
from rig.card_formats.esam_cpu import layout
from rig.card_formats.esam_cpu.card import ATR, CardSlot, VirtualEsamCpuCard
from rig.card_formats.esam_cpu.format import ESAM_CPU
from rig.card_formats.interface import MasterKeys, Purchase
from rig.errors import CardError, ConfigError
from rig.esam.keys import LabKeyService
from rig.profile import load_profile
from rig.sim.meter_firmware import commissioned_esam
from rig.sim.prepaid import PrepaidEngine
from rig.sim.virtual_card import VpcdLink
from rig.sim.vpcd import SlotBusyError, claim_free_slot

from .conftest import PROFILE, PROFILE_FILE

METER = load_profile(PROFILE).protocol.address
SERIAL = "5E5E5E5E5E5E5E01"
NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def _purchase(sequence: int = 1, key_revision: int = 1) -> Purchase:
    return Purchase(meter_no=METER, card_serial=SERIAL, sequence=sequence, credit=2000,
                    credit_unit="money_cents", tariff_version=0, price_per_kwh=Decimal(0),
                    key_revision=key_revision)


def _issued() -> VirtualEsamCpuCard:
    card = ESAM_CPU.blank_card()
    ESAM_CPU.station_writer(MasterKeys(lab_test_key())).personalise(
        CardSlot(card), card_serial=SERIAL, meter_no=METER, key_revision=1)
    return card


@pytest.fixture
def slot() -> Iterator[Any]:
    try:
        s = claim_free_slot(wait_s=30)
    except SlotBusyError as e:  # other benches hold every reader: contention
        pytest.skip(str(e))
    try:
        yield s
    finally:
        s.release()


@contextmanager
def inserted(card: VirtualEsamCpuCard, slot: Any) -> Iterator[PcscConnection]:
    with VpcdLink(card, slot), PcscReader(slot.reader_name).wait_for_card(5) as conn:  # type: ignore[arg-type]
        yield conn


def x(conn: PcscConnection, apdu: str) -> str:
    return conn.transmit(bytes.fromhex(apdu)).hex(" ").upper()


def test_status_words_through_pcscd(slot: Any) -> None:
    card = _issued()
    with inserted(card, slot) as conn:
        assert conn.atr == ATR
        assert x(conn, "00 B0 00 00 08") == "69 86"  # no EF selected
        assert x(conn, "00 A4 04 00 08 F0 52 49 47 45 53 41 02") == "6A 82"  # another AID
        assert x(conn, "00 A4 04 00 08 F0 52 49 47 45 53 41 01") == "90 00"
        assert x(conn, "00 A4 02 0C 02 00 09") == "6A 82"  # no such EF
        assert x(conn, "00 A4 02 0C 03 00 01") == "67 00"  # Lc does not match the data
        assert x(conn, "00 A4 02 0C 02 00 01") == "90 00"
        assert x(conn, "00 D6 00 00 01 FF") == "69 82"  # not opened by EXTERNAL AUTHENTICATE
        assert x(conn, "00 82 00 03 08 00 00 00 00 00 00 00 00") == "69 85"  # no challenge
        assert x(conn, "00 84 00 00 05") == "67 00"
        assert x(conn, "00 84 00 00 08")[-5:] == "90 00"
        assert x(conn, "00 82 00 03 08 00 00 00 00 00 00 00 00") == "63 C2"  # wrong
        assert x(conn, "00 A4 02 0C 02 00 03") == "90 00"
        assert x(conn, "00 D6 00 00 01 FF") == "69 82"  # the return-write file: MAC only
        assert x(conn, "04 D6 00 00 05 FF 00 00 00 00") == "69 85"  # no challenge
        x(conn, "00 84 00 00 08")
        assert x(conn, "04 D6 00 00 05 FF 00 00 00 00") == "69 88"  # SM data objects wrong
        assert x(conn, "84 D4 00 02 10" + " 00" * 16) == "69 88"  # a key package that fails
        assert x(conn, "00 CA 00 00 00") == "6D 00"
        assert x(conn, "80 B0 00 00 08") == "6E 00"
        assert x(conn, "00 A4 00 0C 02 3F 00") == "90 00"
        assert x(conn, "00 A4 02 0C 02 00 05") == "90 00"
        assert x(conn, "00 B0 00 00 08") == SERIAL_SPACED + " 90 00"
        assert x(conn, "00 D6 00 00 08 00 00 00 00 00 00 00 01") == "69 85"  # written once
    assert card.tries[layout.CARD_KEYS[2]] == 2  # the wrong cryptogram cost a try


SERIAL_SPACED = " ".join(SERIAL[i:i + 2] for i in range(0, 16, 2))


def test_station_writes_through_pcscd_and_the_meter_with_its_esam_reads_it(slot: Any) -> None:
    profile = load_profile(PROFILE)
    card = ESAM_CPU.blank_card()
    writer = ESAM_CPU.station_writer(MasterKeys(lab_test_key()))
    with inserted(card, slot) as conn:
        writer.personalise(conn, card_serial=SERIAL, meter_no=METER, key_revision=1)
        writer.write_purchase(conn, _purchase())
    esam = commissioned_esam(profile, lab_test_key())
    engine = PrepaidEngine(profile)
    reader = ESAM_CPU.meter_reader(engine, METER, MasterKeys(lab_test_key(), None, esam),
                                   key_revision=1)
    out = reader.insert(CardSlot(card), NOW)
    assert out.accepted and out.applied_sequence == 1
    assert (esam.wallet.purchase_count, esam.wallet.total) == (1, 2000)
    with inserted(card, slot) as conn:
        assert writer.read_readback(conn).fields["remaining"] == 2000


def test_saved_card_keeps_its_keys_as_hex_and_a_bad_image_is_one_line() -> None:
    card = _issued()
    saved = json.loads(json.dumps(card.to_dict()))
    again = ESAM_CPU.card_from_dict(saved)
    assert again.to_dict() == card.to_dict()
    assert set(saved["keys"]) == {"card-issue", "card-internal", "card-external", "card-return"}
    writer = ESAM_CPU.station_writer(MasterKeys(lab_test_key()))
    assert writer.write_purchase(CardSlot(again), _purchase()).sequence == 1
    with pytest.raises(CardError) as e:
        ESAM_CPU.card_from_dict({**saved, "files": {"0001": "00"}})
    assert "\n" not in str(e.value) and "not a saved card" in str(e.value)


def test_keys_and_cryptograms_never_reach_a_trace() -> None:
    profile = load_profile(PROFILE)
    trace = ApduTrace()
    card = ESAM_CPU.blank_card()
    writer = ESAM_CPU.station_writer(MasterKeys(lab_test_key()), trace=trace)
    writer.personalise(CardSlot(card), card_serial=SERIAL, meter_no=METER, key_revision=1)
    writer.write_purchase(CardSlot(card), _purchase())
    esam = commissioned_esam(profile, lab_test_key())
    reader = ESAM_CPU.meter_reader(PrepaidEngine(profile), METER,
                                   MasterKeys(lab_test_key(), None, esam), key_revision=1)
    assert reader.insert(TracedTransport(CardSlot(card), trace, "meter"), NOW).accepted
    text = json.dumps([e.to_json() for e in trace.entries]).lower()
    for _state, key in card.to_dict()["keys"].values():
        assert key not in text
    for key in esam.to_image()["keys"].values():
        assert key[1] not in text
    key_loads = [e for e in trace.entries if e.command[:2] == bytes.fromhex("84D4")]
    assert len(key_loads) == 4 and all(e.command_redacted == 32 for e in key_loads)
    auths = [e for e in trace.entries if e.command[1:2] in (b"\x82", b"\x88")]
    card_auths = [e for e in auths if e.terminal != "esam"]
    assert len(card_auths) == 4 and all(e.command_redacted == 8 for e in card_auths)
    # the meter's ESAM checked the card's answer and made its own: data cut, answer cut
    esam = [(e.name, e.command_redacted, e.response_redacted) for e in auths
            if e.terminal == "esam"]
    assert esam == [("ESAM VERIFY CARD", 24, 0), ("ESAM ANSWER CARD", 16, 8)]


def test_the_centre_verifies_the_meters_return_write_record() -> None:
    profile = load_profile(PROFILE)
    card = _issued()
    writer = ESAM_CPU.station_writer(MasterKeys(lab_test_key()))
    writer.write_purchase(CardSlot(card), _purchase())
    esam = commissioned_esam(profile, lab_test_key())
    ESAM_CPU.meter_reader(PrepaidEngine(profile), METER, MasterKeys(lab_test_key(), None, esam),
                          key_revision=1).insert(CardSlot(card), NOW)
    raw = writer.read_readback(CardSlot(card)).raw
    data, record = decode(None, raw)
    assert record is not None and record.format.name == "esam-cpu-v1"
    assert (data.last_sequence, data.remaining) == (1, 2000)
    keys = ReadbackKeyService.default()
    assert verify_mac(record, keys, key_revision=1).verified
    assert not verify_mac(record, keys, key_revision=0).verified
    forged = bytearray(raw)
    forged[24] ^= 0x01  # remaining credit
    _, tampered = decode(None, bytes(forged))
    assert not verify_mac(tampered, keys, key_revision=1).verified


@dataclass(frozen=True)
class _LabMachine:
    """A KeySource whose office has its own key service (an encryption machine)."""

    key_service: LabKeyService
    master: Any = None
    readback_master: Any = None
    secure_module: Any = None


def test_a_labs_own_key_service_is_used_and_a_card_of_another_office_is_refused() -> None:
    profile = load_profile(PROFILE)
    other = LabKeyService(b"another utility's master key!!!!", "their encryption machine")
    card = ESAM_CPU.blank_card()
    writer = ESAM_CPU.station_writer(_LabMachine(other))  # type: ignore[arg-type]
    writer.personalise(CardSlot(card), card_serial=SERIAL, meter_no=METER, key_revision=1)
    writer.write_purchase(CardSlot(card), _purchase())
    esam = commissioned_esam(profile, lab_test_key())
    out = ESAM_CPU.meter_reader(PrepaidEngine(profile), METER,
                                MasterKeys(lab_test_key(), None, esam),
                                key_revision=1).insert(CardSlot(card), NOW)
    assert not out.accepted and out.refusal is not None
    assert out.refusal.code == 5  # internal authentication: not this utility's card
    # the ESAM's VERIFY CARD refused the card's answer: its header and status word
    assert out.refusal.command_header == bytes.fromhex("8088000018")
    assert out.refusal.status_word == 0x6300
    with pytest.raises(CardError, match="keyed private"):  # the public state's purchase
        writer.write_purchase(CardSlot(card), _purchase(key_revision=0))


def test_a_profile_without_an_esam_or_with_the_other_key_state_is_one_clear_error(
        tmp_path: Path) -> None:
    text = PROFILE_FILE.read_text(encoding="utf-8")
    no_esam = re.sub(r',\s*"(esam|remote_prepayment)"', "", text[:text.index("[esam]")])
    path = tmp_path / "cpu-without-esam.toml"
    path.write_text(no_esam, encoding="utf-8")
    from rig.sim.emulated_bench import EmulatedBench

    with pytest.raises(ConfigError) as e:
        EmulatedBench(load_profile(str(path)))
    assert "\n" not in str(e.value) and "add an [esam] section" in str(e.value)
    path.write_text(text.replace('key_state = "private"', 'key_state = "public"'),
                    encoding="utf-8")
    with pytest.raises(ConfigError, match=r"key_revision 1 is the private key state, but "
                                          r"\[esam\] key_state is public"):
        EmulatedBench(load_profile(str(path)))
