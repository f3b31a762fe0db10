"""Refused cards seen over the meter's own protocol on a real pty: DL/T 645 abnormal card
insertion records (03301300 count, 03301301..0A records, 03301400 illegal count) with the
registers the refusal left unchanged, kept across a power cycle; and the protocol-neutral
`card_refusals()` for a DL/T 645 and an IEC 62056-21 meter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from rig.card.application import CardApplication
from rig.card.keys import MasterKey
from rig.card.session import DirectTransport
from rig.card_formats.interface import InsertionOutcome
from rig.meter.card_errors import CardErrorCode
from rig.meter.client import CardRefusals
from rig.meter.dlt645 import data_ids as di
from rig.meter.dlt645.client import MeterAbnormalReply
from rig.sim.emulated_bench import lab_master_key
from rig.station.vending_station import VendingStation

from .test_firmware_events import SERIAL, _Ledger, _vend, dlt
from .test_firmware_protocols import EPOCH, Bench

OTHER_MASTER = MasterKey(bytes(range(16)))  # another utility's cards
NO_HEADER = bytes(5)


def insert(b: Bench, card: CardApplication) -> InsertionOutcome:
    card.reset()
    return b.meter.insert_card(DirectTransport(card))


def card_for(meter_no: str, master: MasterKey | None = None,
             serial: str = SERIAL) -> CardApplication:
    card = CardApplication()
    station = VendingStation(_Ledger(), master or lab_master_key())  # type: ignore[arg-type]
    station.personalise(DirectTransport(card), card_serial=serial, meter_no=meter_no,
                        key_revision=1)
    return card


def test_refusals_are_abnormal_card_records_with_the_registers_left_unchanged(
        money: Bench) -> None:
    c = dlt(money)
    assert (c.read(di.ABNORMAL_CARD_COUNT), c.read(di.ILLEGAL_CARD_COUNT)) == (0, 0)
    with pytest.raises(MeterAbnormalReply, match="no requested data"):
        c.read(di.LAST_ABNORMAL_CARD_RECORD)
    own = card_for(money.meter.meter_no)  # a genuine purchase, then some consumption
    VendingStation(_Ledger(), lab_master_key()).write_vend(  # type: ignore[arg-type]
        DirectTransport(own), _vend(money.meter.meter_no, 1, 1_234))
    assert insert(money, own).accepted
    money.load(1000)
    money.hours(1)

    assert not insert(money, card_for("000099990001", serial="C0FFEE0000000099")).accepted
    record = c.read(di.LAST_ABNORMAL_CARD_RECORD)
    assert record == di.AbnormalCardRecord(
        at="260304090000", card_serial="C0FFEE0000000099",
        error=CardErrorCode.METER_NUMBER_MISMATCH, command_header=NO_HEADER, response_status=0,
        purchase_count=c.read(di.LAST_PURCHASE_COUNT), remaining=c.read(di.REMAINING_AMOUNT),
        forward_energy=c.read(di.FORWARD_ACTIVE_TOTAL), reverse_energy=Decimal(0))
    assert (record.purchase_count, record.forward_energy) == (1, Decimal("1.00"))
    assert (c.read(di.ABNORMAL_CARD_COUNT), c.read(di.ILLEGAL_CARD_COUNT)) == (1, 0)

    money.hours(0.5)  # a card of another utility: the card refuses the meter's cryptogram
    assert not insert(money, card_for(money.meter.meter_no, OTHER_MASTER)).accepted
    newest = c.read(di.LAST_ABNORMAL_CARD_RECORD)
    assert isinstance(newest, di.AbnormalCardRecord)
    assert (newest.at, newest.card_serial, newest.reason) == (
        "260304093000", SERIAL, CardErrorCode.EXTERNAL_AUTHENTICATION_ERROR)
    assert newest.command_header == bytes.fromhex("00 82 00 02 08")  # EXTERNAL AUTHENTICATE
    assert newest.response_status == 0x63C2  # wrong cryptogram, 2 tries left
    assert c.read(di.LAST_ABNORMAL_CARD_RECORD + 1) == record  # the older one moved down
    assert (c.read(di.ABNORMAL_CARD_COUNT), c.read(di.ILLEGAL_CARD_COUNT)) == (2, 1)


def test_ten_newest_records_are_kept_and_survive_a_power_cycle(money: Bench) -> None:
    c = dlt(money)
    stranger = card_for("000099990001")
    for _ in range(12):
        money.hours(0.25)
        assert not insert(money, stranger).accepted
    own = card_for(money.meter.meter_no)
    assert insert(money, own).accepted  # an accepted card is no abnormal insertion
    records = [c.read(di.LAST_ABNORMAL_CARD_RECORD + i) for i in range(10)]
    times = [r.occurred for r in records if isinstance(r, di.AbnormalCardRecord)]
    start = EPOCH.replace(tzinfo=None)
    assert times == [start + timedelta(minutes=15 * n) for n in range(12, 2, -1)]
    assert c.read(di.ABNORMAL_CARD_COUNT) == 12
    money.meter.power_down()
    money.hours(1)
    money.meter.power_up()
    assert [c.read(di.LAST_ABNORMAL_CARD_RECORD + i) for i in range(10)] == records
    assert c.read(di.ABNORMAL_CARD_COUNT) == 12


@pytest.mark.parametrize("name", ["dlt645-1p-money", "iec62056-1p-energy"])
def test_protocol_neutral_client_reports_refusals(name: str) -> None:
    b = Bench(name)
    try:
        dlt645 = b.profile.protocol.kind == "dlt645-2007"
        assert b.client.card_refusals() == CardRefusals(0, None, None, 0 if dlt645 else None)
        b.hours(1)
        assert not insert(b, card_for("000099990001")).accepted
        seen = b.client.card_refusals()
        assert (seen.count, seen.last_at) == (1, datetime(2026, 3, 4, 9, tzinfo=UTC))
        # why: DL/T 645's abnormal-insertion record, IEC 62056-21's register C.55.3
        assert seen.last_reason is CardErrorCode.METER_NUMBER_MISMATCH
        if dlt645:
            assert seen.illegal == 0 and seen.last_record is not None
        else:  # a mode C readout of this model has no record and no illegal count
            assert (seen.illegal, seen.last_record) == (None, None)
    finally:
        b.close()
