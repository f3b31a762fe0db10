"""Emulated meter firmware: tamper, power cycles with non-volatile state, a card session cut by
a power failure, meter clock (broadcast time and writes), parameter writes and refusals, all
seen over the meter's own protocol on a real pty."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from rig.billing.types import CreditUnit as BillingCreditUnit
from rig.billing.types import VendResult, VendStatus
from rig.card.application import CardApplication
from rig.card.records import ReadbackRecord
from rig.card.session import DirectTransport
from rig.meter.card_errors import CardErrorCode
from rig.meter.client import EventCounts
from rig.meter.dlt645 import data_ids as di
from rig.meter.dlt645.client import Dlt645Client, MeterAbnormalReply, MeterTimeout, RelayCommand
from rig.meter.iec62056.client import Iec62056Client
from rig.meter.iec62056.status import ST_COVER_OPEN
from rig.profile import load_profile
from rig.sim import nvm
from rig.sim.emulated_bench import EmulatedBench, lab_master_key
from rig.sim.meter_firmware import PowerFailure
from rig.station.vending_station import VendingStation

from .test_firmware_protocols import EPOCH, Bench, H

SERIAL = "C0FFEE0000000042"
PASSWORD = bytes.fromhex("02000000")  # the money profile's


def dlt(b: Bench) -> Dlt645Client:
    client = b.client.protocol
    assert isinstance(client, Dlt645Client)
    return client


def test_cover_open_is_a_tamper_event_with_count_and_times(money: Bench) -> None:
    c = dlt(money)
    assert c.read(di.COVER_OPEN_COUNT) == 0
    with pytest.raises(MeterAbnormalReply, match="no requested data"):
        c.read(di.LAST_COVER_OPEN_RECORD)  # no record before the first event
    money.hours(1)
    money.meter.open_cover()
    assert c.read(di.COVER_OPEN_COUNT) == 1
    assert c.read(di.LAST_COVER_OPEN_RECORD) == "260304090000" + "000000000000"  # still open
    money.hours(0.25)
    money.meter.close_cover()
    money.meter.open_cover()  # a second opening is a second event
    money.meter.close_cover()
    assert c.read(di.COVER_OPEN_COUNT) == 2
    assert c.read(di.LAST_COVER_OPEN_RECORD) == "260304091500" + "260304091500"
    assert money.meter.terminal.readback(money.clock.now()).tamper_count == 2


def test_iec_meter_shows_cover_and_power_failures_in_its_readout() -> None:
    b = Bench("iec62056-1p-energy")
    try:
        client = b.client.protocol
        assert isinstance(client, Iec62056Client)
        b.meter.open_cover()
        b.hours(1)
        b.meter.power_down()
        b.hours(1)
        b.meter.power_up()
        values = {k: ds.value for k, ds in client.readout().items()}
        assert values["C.54.1"] == "0001" and values["C.54.2"] == "260304080000"
        assert values["C.7.0"] == "0001" and values["C.54.3"] == "260304090000"
        assert int(values["C.5.0"], 16) & ST_COVER_OPEN
    finally:
        b.close()


def test_energy_while_the_image_is_saved_is_neither_the_meters_nor_the_loads(
        money: Bench, monkeypatch: pytest.MonkeyPatch) -> None:
    """The supply is cut before the registers are saved: bench time that passes while the
    EEPROM image is written (milliseconds on a loaded machine, minutes of bench time at
    36000x) draws nothing, so the meter's energy and the load's stay equal across the cut."""
    e = money.meter.engine
    e.apply_purchase(7, 5_000, money.clock.now())
    money.load(2000)
    money.hours(1)
    saving = money.meter.nvm_image

    def slow_image() -> bytes:
        money.clock.t += 0.1 * H  # six bench minutes pass while the image is written
        return saving()

    monkeypatch.setattr(money.meter, "nvm_image", slow_image)
    money.meter.power_down()
    monkeypatch.undo()
    money.meter.power_up()
    money.hours(1)
    assert e.energy_wh == money.world.load_energy_wh().quantize(Decimal(1)) == 4000


def test_power_cycle_mid_consumption_keeps_every_register(money: Bench) -> None:
    c, e = dlt(money), money.meter.engine
    e.apply_purchase(7, 5_000, money.clock.now())  # 50 CNY
    money.load(2000)
    money.hours(1.5)  # 3 kWh
    before = nvm.engine_image(e)
    remaining = c.read(di.REMAINING_AMOUNT)
    money.meter.power_down()
    assert e.purchase_count == 0 and e.energy_wh == 0  # RAM is really gone...
    assert money.world.voltage == 0 and money.world.load.drawn_power() == 0
    money.hours(2)  # ...no supply, no energy while the grid is out...
    with pytest.raises(MeterTimeout):
        c.read(di.REMAINING_AMOUNT)  # ...and a dead meter does not answer
    money.meter.power_up()
    after = nvm.engine_image(e)
    assert after["events"].pop("power_down_count") == 1
    assert before["events"].pop("power_down_count") == 0
    assert after == before  # every other field, bit for bit, from the EEPROM image
    assert c.read(di.REMAINING_AMOUNT) == remaining
    assert c.read(di.FORWARD_ACTIVE_TOTAL) == Decimal("3.00")
    assert c.read(di.LAST_PURCHASE_COUNT) == 1
    assert c.read(di.POWER_DOWN_COUNT) == 1
    assert c.read(di.LAST_POWER_DOWN_RECORD) == "260304093000" + "260304113000"
    money.hours(0.5)  # the load is on again behind a closed relay: consumption resumes
    assert c.read(di.FORWARD_ACTIVE_TOTAL) == Decimal("4.00")


def _vend(meter_no: str, sequence: int, cents: int) -> VendResult:
    return VendResult(
        vend_id=sequence, request_id=f"r{sequence}", meter_no=meter_no, card_serial=SERIAL,
        sequence=sequence, credit=cents, credit_unit=BillingCreditUnit.MONEY_CENTS,
        amount=Decimal(cents) / 100, tariff_code="T", tariff_version=1,
        price_per_kwh=Decimal("0.5000"), key_revision=1, receipt=(),
        status=VendStatus.CREATED, station="s1", operator="op", created_at=EPOCH)


class _Ledger:
    def mark_written(self, vend_id: int) -> None:
        pass


class FailingSlot:
    """The card slot of a meter whose supply fails after ``after`` APDUs."""

    def __init__(self, card: CardApplication, after: int) -> None:
        self.inner = DirectTransport(card)
        self.left = after
        self.name = "failing"

    def transmit(self, apdu: bytes) -> bytes:
        if self.left == 0:
            raise PowerFailure("supply lost")
        self.left -= 1
        return self.inner.transmit(apdu)


def card_with_a_purchase(b: Bench) -> tuple[CardApplication, VendingStation]:
    """A card issued to `b`'s meter carrying purchase 1 of 20.00, reset as if just inserted."""
    card = CardApplication()
    station = VendingStation(_Ledger(), lab_master_key())  # type: ignore[arg-type]
    station.personalise(DirectTransport(card), card_serial=SERIAL, meter_no=b.meter.meter_no,
                        key_revision=1)
    station.write_vend(DirectTransport(card), _vend(b.meter.meter_no, 1, 2_000))
    card.reset()
    return card, station


def test_card_session_cut_by_power_failure_applies_the_purchase_once() -> None:
    """For every APDU of an insertion at which the supply can fail: after power-up and a second
    insertion the purchase is applied exactly once, and conservation holds."""
    apdus = None
    k = 0
    while apdus is None or k <= apdus:
        b = Bench("dlt645-1p-money")
        try:
            card, station = card_with_a_purchase(b)
            slot = FailingSlot(card, k)
            first = b.meter.insert_card(slot)
            if apdus is None and first.accepted:
                apdus = k - 1  # fewest APDUs a full insertion needs is the first k that works
            e = b.meter.engine
            if not first.accepted:
                assert "power failed" in first.message and not b.meter.powered
                refused = b.meter.insert_card(DirectTransport(card))
                assert not refused.accepted and "no supply" in refused.message
                b.meter.power_up()
            card.reset()
            second = b.meter.insert_card(DirectTransport(card))
            assert second.accepted, second.message
            assert e.purchase_count == 1 and e.cumulative_purchase == Decimal("20.00")
            assert e.remaining == Decimal("20.00") and e.relay_closed
            readback = ReadbackRecord.from_bytes(station.read_readback(DirectTransport(card)).raw)
            assert readback.last_sequence == 1 and readback.power_down_count == (
                0 if first.accepted else 1)
        finally:
            b.close()
        k += 1
        if apdus is None:
            assert k < 200, "an insertion never completed"
    assert apdus > 5  # the loop really cut the session at many points


def test_broadcast_time_nudges_the_meter_clock_within_the_rules(money: Bench) -> None:
    c = dlt(money)
    assert c.read(di.TIME) == "080000"
    c.broadcast_time(datetime(2026, 3, 4, 8, 4, 0))  # 4 minutes: accepted
    assert c.read(di.TIME) == "080400"
    c.broadcast_time(datetime(2026, 3, 4, 8, 6, 0))  # second one the same day: ignored
    assert c.read(di.TIME) == "080400"
    money.hours(24)
    c.broadcast_time(datetime(2026, 3, 5, 8, 15, 0))  # 11 minutes off: ignored
    assert c.read(di.TIME) == "080400"
    assert c.read(di.DATE_WEEK) == "26030504"  # Thursday
    assert len(money.meter._responder.errors) == 2  # type: ignore[union-attr]


def test_password_writes_set_clock_and_levels_and_refusals_change_nothing(money: Bench) -> None:
    c = dlt(money)
    c.write(di.TIME, "093000", password=PASSWORD)
    assert c.read(di.TIME) == "093000"
    c.write(di.ALARM_AMOUNT_1, Decimal("25.00"), password=PASSWORD)
    assert c.read(di.ALARM_AMOUNT_1) == Decimal("25.00")
    assert money.meter.engine.profile.thresholds.alarm1 == Decimal("25.00")
    with pytest.raises(MeterAbnormalReply) as bad:
        c.write(di.ALARM_AMOUNT_2, Decimal("30.00"), password=PASSWORD)
    assert bad.value.error_word == 0x01 and bad.value.control == 0xD4  # alarm2 > alarm1
    with pytest.raises(MeterAbnormalReply) as wrong:
        c.write(di.ALARM_AMOUNT_1, Decimal("5.00"), password=bytes.fromhex("02999999"))
    assert wrong.value.error_word == 0x04
    with pytest.raises(MeterAbnormalReply) as read_only:
        c.write(di.REMAINING_AMOUNT, Decimal("999.00"), password=PASSWORD)
    assert read_only.value.error_word == 0x01
    with pytest.raises(MeterAbnormalReply) as unknown:
        c.write(di.ALARM_ENERGY_1, Decimal("1.00"), password=PASSWORD)
    assert unknown.value.error_word == 0x02  # a money meter has no energy levels
    assert c.read(di.ALARM_AMOUNT_1) == Decimal("25.00")
    assert c.read(di.ALARM_AMOUNT_2) == money.profile.thresholds.alarm2
    assert c.read(di.REMAINING_AMOUNT) == 0


def test_expired_relay_command_is_refused(money: Bench) -> None:
    c = dlt(money)
    money.meter.engine.apply_purchase(1, 5_000, money.clock.now())
    with pytest.raises(MeterAbnormalReply) as expired:
        c.relay_control(RelayCommand.TRIP, password=PASSWORD,
                        valid_until=datetime(2026, 3, 4, 7, 59, 59))
    assert expired.value.error_word == 0x01 and expired.value.control == 0xDC
    assert money.meter.engine.relay_closed


def test_last_purchase_records_and_wildcard_read(money: Bench) -> None:
    card = CardApplication()
    station = VendingStation(_Ledger(), lab_master_key())  # type: ignore[arg-type]
    station.personalise(DirectTransport(card), card_serial=SERIAL, meter_no=money.meter.meter_no,
                        key_revision=1)
    station.write_vend(DirectTransport(card), _vend(money.meter.meter_no, 1, 1_234))
    money.hours(2)
    card.reset()
    assert money.meter.insert_card(DirectTransport(card)).accepted
    anyone = Dlt645Client(money.client.protocol._port, "AAAAAAAAAAAA")  # type: ignore[attr-defined]
    assert anyone.read(di.LAST_PURCHASE_DATE) == "2603041000"
    assert anyone.read(di.LAST_PURCHASE_AMOUNT) == Decimal("12.34")
    assert anyone.read(di.LAST_REMAINING_BEFORE_PURCHASE) == 0
    assert anyone.read(di.LAST_REMAINING_AFTER_PURCHASE) == Decimal("12.34")
    assert anyone.read(di.LAST_PURCHASE_COUNT) == 1
    assert anyone.read(di.LAST_CLOSE_RECORD) == "260304100000"  # the purchase closed it


def test_bench_control_channel_powers_the_meter_and_opens_its_cover() -> None:
    bench = EmulatedBench(load_profile("dlt645-1p-money"), noise=False)
    reply = bench._on_control({"op": "meter_power", "on": False})
    assert reply == {"ok": True, "powered": False} and bench.world.voltage == 0
    assert bench._on_control({"op": "meter_power", "on": True})["powered"]
    assert bench.meter.engine.events.power_down_count == 1
    cover = bench._on_control({"op": "meter_cover", "open": True})
    assert cover == {"ok": True, "cover_open": True, "tamper_count": 1}
    assert EmulatedBench(bench.profile, wire_pacing=True).meter.wire_pacing


def test_refused_card_changes_no_register_and_shows_in_the_readout() -> None:
    b = Bench("iec62056-1p-energy")
    try:
        client = b.client.protocol
        assert isinstance(client, Iec62056Client)
        card = CardApplication()
        station = VendingStation(_Ledger(), lab_master_key())  # type: ignore[arg-type]
        station.personalise(DirectTransport(card), card_serial=SERIAL,
                            meter_no="000099990001", key_revision=1)
        b.hours(1)
        before = client.readout()
        card.reset()
        outcome = b.meter.insert_card(DirectTransport(card))
        assert not outcome.accepted and "card is for meter 000099990001" in outcome.message
        after = client.readout()
        assert after.pop("C.55.1").value == "0001" and before.pop("C.55.1").value == "0000"
        assert after.pop("C.55.2").value == "260304090000"
        assert before.pop("C.55.2").value == ""
        # why, as the card error code a lab reads over the optical port: meter number mismatch
        assert after.pop("C.55.3").value == "11" and before.pop("C.55.3").value == ""
        refusals = b.client.card_refusals()
        assert refusals.count == 1 and refusals.last_reason is CardErrorCode.METER_NUMBER_MISMATCH
        before.pop("0.9.1"), after.pop("0.9.1")  # the clock moved; nothing else did
        assert after == before
    finally:
        b.close()


def test_cover_opened_during_an_outage_is_recorded_at_power_up(money: Bench) -> None:
    c = dlt(money)
    money.meter.power_down()
    money.hours(1)
    money.meter.open_cover()  # the classic attack: open the meter while it is dark
    money.hours(0.5)
    money.meter.close_cover()
    money.hours(0.5)
    money.meter.power_up()
    assert c.read(di.COVER_OPEN_COUNT) == 1
    assert c.read(di.LAST_COVER_OPEN_RECORD) == "260304090000" + "260304093000"
    money.meter.open_cover()  # open at power-down, closed in the dark: one event, now closed
    money.meter.power_down()
    money.hours(1)
    money.meter.close_cover()
    money.meter.power_up()
    assert c.read(di.COVER_OPEN_COUNT) == 2
    assert c.read(di.LAST_COVER_OPEN_RECORD) == "260304100000" + "260304110000"
    assert money.meter.log.cover_open_since is None


@pytest.mark.parametrize("name", ["dlt645-1p-money", "iec62056-1p-energy",
                                  "dlt645-3p-power-limit"])
def test_event_counts_through_the_protocol_neutral_client(name: str) -> None:
    b = Bench(name)
    try:
        assert b.client.event_counts() == EventCounts(power_downs=0, tamper=0)
        b.meter.power_down()
        b.meter.power_up()
        b.meter.open_cover()
        b.meter.close_cover()
        b.meter.open_cover()
        assert b.client.event_counts() == EventCounts(power_downs=1, tamper=2)
    finally:
        b.close()
