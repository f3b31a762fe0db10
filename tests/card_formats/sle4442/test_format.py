"""The SLE 4442 format end to end in-process: the station writes through a reader dialect,
the meter (the real prepaid engine) reads through the chip's native bus, with the rules of
docs/card-formats/sle4442.md."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from rig.card.trace import ApduTrace, TracedTransport
from rig.card_formats import registry
from rig.card_formats.interface import (
    CardKind,
    ClearCommand,
    ParameterSet,
    Purchase,
    TariffRate,
)
from rig.card_formats.sle4442 import layout
from rig.card_formats.sle4442.card import VirtualSLE4442
from rig.card_formats.sle4442.chip import (
    COMPARE_VERIFICATION,
    UPDATE_MAIN,
    UPDATE_SECURITY,
    verify_psc,
)
from rig.card_formats.sle4442.format import SLE4442
from rig.card_formats.sle4442.psc import meter_psc
from rig.errors import CardError, ConfigError
from rig.meter.card_errors import CardErrorCode

from .conftest import METER, Slot

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
SERIAL = "0123456789ABCDEF"


def purchase(seq: int, credit: int = 10000, meter: str = METER, **kw) -> Purchase:
    return Purchase(meter_no=meter, card_serial=SERIAL, sequence=seq, credit=credit,
                    credit_unit="money_cents", tariff_version=kw.pop("tariff_version", 0),
                    price_per_kwh=Decimal("0.5"), key_revision=1, **kw)


def issue(keys, kind=CardKind.USER, meter=METER, dialect="acs") -> VirtualSLE4442:
    card = SLE4442.blank_card({"dialect": "acs"})
    SLE4442.station_writer(keys).personalise(Slot(card), card_serial=SERIAL, meter_no=meter,
                                             key_revision=1, kind=kind)
    return card.in_reader(dialect)


def meter(wallet, keys, meter_no=METER):
    return SLE4442.meter_reader(wallet, meter_no, keys, key_revision=1)


def test_registered_under_its_entry_points() -> None:
    from rig.billing.readback_format import format_for

    assert registry.card_format("sle4442") is SLE4442
    assert SLE4442.options["dialect"] == ("acs", "omnikey")
    assert SLE4442.kinds == {CardKind.USER, CardKind.PARAMETER, CardKind.CHECK, CardKind.CLEAR}
    raw = layout.ReadbackBlock(1, METER, False, False, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                               layout.EPOCH, 0, unit=layout.UnitCode.ENERGY_WH).to_bytes()
    assert format_for(raw).name == SLE4442.readback_format == "sle4442-v1"


@pytest.mark.parametrize("dialect", ["acs", "omnikey"])
def test_prepaid_cycle_purchase_count_rule_and_readback(keys, wallet, dialect) -> None:
    card = issue(keys, dialect=dialect)
    writer = SLE4442.station_writer(keys, options={"dialect": dialect})
    assert writer.identify(Slot(card)).meter_no == METER
    on_card = writer.write_purchase(Slot(card), purchase(1))
    assert (on_card.sequence, on_card.credit) == (1, 10000)
    reader = meter(wallet, keys)
    out = reader.insert(card.meter_slot(), NOW)
    assert (out.accepted, out.applied_sequence, out.card_type) == (True, 1, "user")
    assert wallet.balance == Decimal("100.00")
    again = reader.insert(card.meter_slot(), NOW + timedelta(minutes=1))  # same count
    assert again.accepted and again.applied_sequence is None
    assert "no new credit" in again.message
    assert wallet.balance == Decimal("100.00")
    rb = writer.read_readback(Slot(card))
    assert (rb.fields["last_sequence"], rb.fields["remaining"]) == (1, 10000)
    assert rb.fields["timestamp"] == NOW + timedelta(minutes=1)
    writer.write_purchase(Slot(card), purchase(2, 500))
    with pytest.raises(CardError, match="carries purchase 2 the meter has not applied"):
        writer.write_purchase(Slot(card), purchase(3))
    writer.write_purchase(Slot(card), purchase(2, 500))  # the same vend again: allowed
    assert reader.insert(card.meter_slot(), NOW).applied_sequence == 2
    # the same vend again after the meter applied it (its confirmation was lost): written,
    # and the meter adds nothing; an older one is refused
    writer.write_purchase(Slot(card), purchase(2, 500))
    assert reader.insert(card.meter_slot(), NOW).applied_sequence is None
    with pytest.raises(CardError, match="has applied purchase 2 already"):
        writer.write_purchase(Slot(card), purchase(1))
    assert wallet.balance == Decimal("105.00")


def test_card_for_another_meter_is_refused_without_costing_a_psc_attempt(keys, wallet) -> None:
    card = issue(keys, meter="000000002002")
    out = meter(wallet, keys).insert(card.meter_slot(), NOW)
    assert not out.accepted
    assert out.refusal is not None
    assert (out.refusal.code, out.refusal.card_serial) == (
        CardErrorCode.METER_NUMBER_MISMATCH, SERIAL)
    assert card.chip.error_counter == 0b111


def test_purchase_count_not_last_plus_one_is_refused_and_recorded_on_the_card(keys,
                                                                              wallet) -> None:
    card = issue(keys)
    block = layout.PurchaseBlock(2, 10000, layout.UnitCode.MONEY_CENTS, 0, Decimal(0), 0, 0,
                                 METER)  # count 2 while the meter is at 0
    _raw_write(card, keys, layout.PURCHASE_AT, block.to_bytes())
    reader = meter(wallet, keys)
    out = reader.insert(card.meter_slot(), NOW)
    assert out.refusal is not None and out.refusal.code == CardErrorCode.PURCHASE_COUNT_ERROR
    assert wallet.balance == 0 and wallet.purchase_count == 0
    rb = layout.newest_readback(_slots(card))[1]
    assert rb is not None and (rb.refusal_code, rb.refusal_count) == (17, 1)
    assert reader.nvm_state()["refusal_code"] == 17


def test_locked_card_is_refused(keys, wallet) -> None:
    card = issue(keys)
    SLE4442.station_writer(keys).write_purchase(Slot(card), purchase(1))
    for _ in range(3):
        card.reset()
        card.process(bytes.fromhex("FFA4000001 06".replace(" ", "")))
        card.process(bytes.fromhex("FF20000003 000000".replace(" ", "")))
    out = meter(wallet, keys).insert(card.meter_slot(), NOW)
    assert out.refusal is not None
    assert out.refusal.code == CardErrorCode.EXTERNAL_AUTHENTICATION_ERROR
    assert "locked" in out.message and wallet.balance == 0


def test_checksum_error_is_refused(keys, wallet) -> None:
    card = issue(keys)
    SLE4442.station_writer(keys).write_purchase(Slot(card), purchase(1))
    card.chip.main[layout.PURCHASE_AT + 5] ^= 0x01  # one bit of the credit flipped
    out = meter(wallet, keys).insert(card.meter_slot(), NOW)
    assert out.refusal is not None and out.refusal.code == CardErrorCode.CARD_FILE_FORMAT_ERROR
    assert "checksum" in out.message and wallet.balance == 0


def test_hoarding_limit_refuses_the_purchase(keys, wallet) -> None:
    card = issue(keys)
    SLE4442.station_writer(keys).write_purchase(Slot(card), purchase(1, credit=1_000_000))
    out = meter(wallet, keys).insert(card.meter_slot(), NOW)
    assert out.refusal is not None
    assert out.refusal.code == CardErrorCode.HOARDING_LIMIT_EXCEEDED
    assert wallet.balance == 0


def test_a_card_issued_at_another_key_revision_or_psc_is_refused(keys, wallet) -> None:
    card = issue(keys)
    reader = SLE4442.meter_reader(wallet, METER, keys, key_revision=2)
    out = reader.insert(card.meter_slot(), NOW)
    assert out.refusal is not None and out.refusal.code == CardErrorCode.NOT_AUTHORISED
    card.chip.psc = b"\x00\x00\x01"  # the right binding, another PSC (another utility)
    out = meter(wallet, keys).insert(card.meter_slot(), NOW)
    assert out.refusal is not None
    assert out.refusal.code == CardErrorCode.EXTERNAL_AUTHENTICATION_ERROR


def test_forged_purchase_is_not_resisted_as_the_format_says(keys, wallet) -> None:
    assert {a.name: a.resisted for a in SLE4442.attacks()}["forged_purchase"] is False
    card = issue(keys)
    writer = SLE4442.station_writer(keys)
    genuine = writer.write_purchase(Slot(card), purchase(1, 1000))
    SLE4442.forged_purchase(writer, Slot(card), genuine)
    out = meter(wallet, keys).insert(card.meter_slot(), NOW)
    assert out.accepted and wallet.balance == Decimal("100.00")  # ten times 10.00


def test_copied_card_works_and_a_replay_adds_nothing(keys, wallet) -> None:
    card = issue(keys)
    SLE4442.station_writer(keys).write_purchase(Slot(card), purchase(1))
    copy = SLE4442.card_from_dict(card.to_dict())
    reader = meter(wallet, keys)
    assert reader.insert(copy.meter_slot(), NOW).applied_sequence == 1
    assert reader.insert(card.meter_slot(), NOW).applied_sequence is None
    assert wallet.balance == Decimal("100.00")


def test_omnikey_cannot_issue_and_says_so(keys) -> None:
    card = SLE4442.blank_card({"dialect": "omnikey"})
    writer = SLE4442.station_writer(keys, options={"dialect": "omnikey"})
    with pytest.raises(CardError,
                       match="CHANGE PSC and WRITE PROTECTION: the omnikey dialect has no"):
        writer.personalise(Slot(card), card_serial=SERIAL, meter_no=METER, key_revision=1)


def test_personalise_freezes_the_serial_and_is_idempotent(keys) -> None:
    card = issue(keys)
    assert card.chip.protection == 0xFFFFE00F  # bytes 4..12 (version, serial) frozen
    assert card.chip.psc == meter_psc(keys, METER, 1)
    again = SLE4442.station_writer(keys).personalise(
        Slot(card), card_serial=SERIAL, meter_no=METER, key_revision=1)
    assert again.card_serial == SERIAL and card.chip.error_counter == 0b111
    with pytest.raises(CardError, match="card serial 0123456789ABCDEF is frozen"):
        SLE4442.station_writer(keys).personalise(
            Slot(card), card_serial="00000000000000FF", meter_no=METER, key_revision=1)


def test_reissue_to_another_meter_moves_the_psc_and_erases_the_old_blocks(keys,
                                                                           wallet) -> None:
    card = issue(keys)
    writer = SLE4442.station_writer(keys)
    writer.write_purchase(Slot(card), purchase(1))
    other = "000000002002"
    writer.personalise(Slot(card), card_serial=SERIAL, meter_no=other, key_revision=1)
    assert card.chip.psc == meter_psc(keys, other, 1)
    assert writer.read_purchase(Slot(card)) is None
    out = meter(wallet, keys).insert(card.meter_slot(), NOW)
    assert out.refusal is not None
    assert out.refusal.code == CardErrorCode.METER_NUMBER_MISMATCH
    writer.personalise(Slot(card), card_serial=SERIAL, meter_no=METER, key_revision=1,
                       kind=CardKind.CHECK)  # and back, as a check card
    assert meter(wallet, keys).insert(card.meter_slot(), NOW).card_type == "check"


def test_omnikey_reissues_as_another_kind_but_not_to_another_meter(keys) -> None:
    card = issue(keys, dialect="omnikey")
    writer = SLE4442.station_writer(keys, options={"dialect": "omnikey"})
    assert writer.personalise(Slot(card), card_serial=SERIAL, meter_no=METER, key_revision=1,
                              kind=CardKind.PARAMETER).kind is CardKind.PARAMETER
    with pytest.raises(CardError, match="CHANGE PSC: the omnikey dialect has no such"):
        writer.personalise(Slot(card), card_serial=SERIAL, meter_no="000000002002",
                           key_revision=1)


def test_parameter_clear_and_check_cards(keys, wallet) -> None:
    writer = SLE4442.station_writer(keys)
    reader = meter(wallet, keys)
    pcard = issue(keys, CardKind.PARAMETER)
    writer.write_parameters(Slot(pcard), ParameterSet(
        meter_no=METER, version=1, key_revision=1, alarm1=2000, alarm2=1000,
        overdraft_limit=0, hoarding_limit=500000, power_limit_w=6000, tariff_version=2,
        tariff_rates=(TariffRate(0, Decimal("0.6")),)))
    out = reader.insert(pcard.meter_slot(), NOW)
    assert out.accepted and out.card_type == "parameter"
    assert wallet.profile.thresholds.alarm1 == Decimal("20.00")
    assert wallet.price_per_kwh == Decimal("0.6")
    assert "already applied" in reader.insert(pcard.meter_slot(), NOW).message
    wallet.events.tamper_count = 2
    ccard = issue(keys, CardKind.CLEAR)
    writer.write_clear(Slot(ccard), ClearCommand(METER, clear_no=1, key_revision=1))
    assert reader.insert(ccard.meter_slot(), NOW).accepted
    assert wallet.events.tamper_count == 0
    kcard = issue(keys, CardKind.CHECK)
    assert "check card" in reader.insert(kcard.meter_slot(), NOW).message
    assert writer.read_readback(Slot(kcard)).fields["tariff_version"] == 2
    with pytest.raises(CardError, match="no key-change card"):
        writer.write_key_change(Slot(kcard), METER, 1, 2)
    with pytest.raises(CardError, match="is a check card, not a user card"):
        writer.write_purchase(Slot(kcard), purchase(1))


def test_the_centre_verifies_the_meters_readback_mac_and_not_a_forged_one(keys,
                                                                          wallet) -> None:
    from rig.billing.readback_check import decode, verify_mac
    from rig.billing.readback_keys import ReadbackKeyService

    card = issue(keys)
    SLE4442.station_writer(keys).write_purchase(Slot(card), purchase(1))
    meter(wallet, keys).insert(card.meter_slot(), NOW)
    rb = SLE4442.station_writer(keys).read_readback(Slot(card))
    data, raw = decode(None, rb.raw)
    assert (data.meter_no, data.last_sequence, data.remaining) == (METER, 1, 10000)
    centre = ReadbackKeyService.default()  # the lab readback test key the meter was made with
    assert verify_mac(raw, centre, 1).verified
    assert not verify_mac(raw, centre, 2).verified  # another key revision's key
    block = layout.ReadbackBlock.decode(rb.raw)
    assert block is not None
    forged = replace(block, remaining=1_000_000).to_bytes()  # valid CRC, the PSC suffices
    _, forged_raw = decode(None, forged)
    assert layout.ReadbackBlock.decode(forged) is not None
    assert not verify_mac(forged_raw, centre, 1).verified
    assert {a.name: a.resisted for a in SLE4442.attacks()}["forged_readback"] is True


def test_trace_keeps_no_psc(keys) -> None:
    trace = ApduTrace()
    card = SLE4442.blank_card()
    SLE4442.station_writer(keys, trace=trace).personalise(
        Slot(card), card_serial=SERIAL, meter_no=METER, key_revision=1)
    psc = meter_psc(keys, METER, 1)
    text = trace.to_text()
    assert "FF D2 00 01 03 <redacted 3 bytes>" in text
    assert psc.hex(" ").upper() not in text
    assert all(psc not in e.command for e in trace.entries)


def test_meter_slot_trace_keeps_no_psc(keys, wallet) -> None:
    """The meter's chip-bus exchanges go into the bench's APDU trace (and its saved file):
    the PSC it compares and writes back, and the security memory it reads (which shows the
    PSC once the card is unlocked), must not."""
    card = issue(keys)
    SLE4442.station_writer(keys).write_purchase(Slot(card), purchase(1))
    trace = ApduTrace()
    out = meter(wallet, keys).insert(TracedTransport(card.meter_slot(), trace, "meter"), NOW)
    assert out.accepted and out.applied_sequence == 1
    psc = meter_psc(keys, METER, 1)
    compares = [e for e in trace.entries if e.command[:1] == bytes([COMPARE_VERIFICATION])]
    assert [e.command for e in compares] == [b"\x33\x01", b"\x33\x02", b"\x33\x03"]
    assert all(e.command_redacted == 1 for e in compares)
    for e in trace.entries:
        if e.command[0] in (COMPARE_VERIFICATION, UPDATE_SECURITY) and e.command[1] != 0:
            assert len(e.command) == 2 and e.command_redacted == 1, e  # its PSC byte cut
        assert psc not in e.command + e.response and psc[1:] not in e.response, e


def test_bad_options_name_what_and_where() -> None:
    with pytest.raises(ConfigError, match="no SLE 4442 reader dialect 'scm'"):
        SLE4442.blank_card({"dialect": "scm"})
    with pytest.raises(ConfigError, match="no option speed"):
        SLE4442.station_writer(None, options={"speed": "fast"})  # type: ignore[arg-type]


def test_meter_nvm_state_survives_a_power_cycle(keys, wallet) -> None:
    reader = meter(wallet, keys)
    reader.restore_nvm_state({"parameters_version": 3, "last_clear_no": 2,
                              "refusal_code": 11, "refusal_count": 4})
    again = meter(wallet, keys)
    again.restore_nvm_state(reader.nvm_state())
    assert again.nvm_state() == reader.nvm_state() == {
        "key_revision": 1, "parameters_version": 3, "last_clear_no": 2, "refusal_code": 11,
        "refusal_count": 4}


def _raw_write(card: VirtualSLE4442, keys, address: int, data: bytes) -> None:
    bus = card.meter_slot()
    assert verify_psc(bus.command, meter_psc(keys, METER, 1)) == 7
    for i, b in enumerate(data):
        bus.command(UPDATE_MAIN, address + i, b)


def _slots(card: VirtualSLE4442) -> tuple[bytes, bytes]:
    m = bytes(card.chip.main)
    a, b = layout.READBACK_SLOTS
    return m[a:a + 64], m[b:b + 64]



def test_a_processor_card_in_a_memory_card_meter_is_a_card_reset_error(keys, wallet) -> None:
    from rig.card.application import CardApplication
    from rig.card.session import DirectTransport

    out = meter(wallet, keys).insert(DirectTransport(CardApplication()), NOW)
    assert out.refusal is not None and out.refusal.code == CardErrorCode.CARD_RESET_ERROR


def test_the_meter_finds_the_chip_behind_a_slot_transport(keys, wallet) -> None:
    from rig.card.session import DirectTransport

    card = issue(keys)
    SLE4442.station_writer(keys).write_purchase(Slot(card), purchase(1))
    out = meter(wallet, keys).insert(DirectTransport(card), NOW)  # type: ignore[arg-type]
    assert out.applied_sequence == 1


def test_every_bit_flip_of_the_purchase_block_is_refused_and_changes_nothing(keys) -> None:
    from .conftest import engine_wallet

    card = issue(keys)
    SLE4442.station_writer(keys).write_purchase(Slot(card), purchase(1))
    saved = card.to_dict()
    for bit in range(layout.BLOCK_SIZE * 8):
        flipped = SLE4442.card_from_dict(saved)
        flipped.chip.main[layout.PURCHASE_AT + bit // 8] ^= 1 << (bit % 8)
        wallet = engine_wallet()
        out = meter(wallet, keys).insert(flipped.meter_slot(), NOW)
        assert out.refusal is not None, bit
        assert out.refusal.code == CardErrorCode.CARD_FILE_FORMAT_ERROR, bit
        assert (wallet.balance, wallet.purchase_count) == (0, 0), bit
