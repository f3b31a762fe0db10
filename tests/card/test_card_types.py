"""Parameter, check, clear/test and key-change cards at the meter; wrong types are refused."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from rig.billing.readback_keys import ReadbackKeyService
from rig.card.apdu import MacError
from rig.card.keys import derive_card_key, derive_meter_key
from rig.card.records import (
    CardType,
    ClearAction,
    ClearRecord,
    FriendlyPeriod,
    ParameterRecord,
    ReadbackRecord,
    TariffRate,
)
from rig.card.session import CardSession
from rig.card_formats.interface import CardKind
from rig.errors import CardError
from rig.faults.card_world import (
    MASTER,
    NOW,
    READBACK_MASTER,
    SERIAL,
    World,
    make_world,
    registers,
)
from rig.sim.prepaid import EventLog


def issue(card_type: CardType, key_revision: int = 1) -> World:
    w = make_world(personalise=False)
    w.station.personalise(w.slot(), card_serial=SERIAL, meter_no=w.meter_no,
                          key_revision=key_revision, kind=CardKind[card_type.name])
    return w


def params(w: World, version: int = 1, rates: tuple[TariffRate, ...] | None = None
           ) -> ParameterRecord:
    return ParameterRecord(
        meter_no=w.meter_no, version=version, alarm1=2000, alarm2=800, overdraft_limit=500,
        hoarding_limit=500000, power_limit_w=6000,
        friendly_periods=(FriendlyPeriod(22, 24, 0x7F), FriendlyPeriod(0, 6, 0x60)),
        tariff_version=7, tariff_rates=rates or (TariffRate(0, Decimal("0.6120")),),
        key_revision=1)


def test_parameter_card_applies_tariff_and_records_the_rest_once() -> None:
    w = issue(CardType.PARAMETER)
    rec = w.station.writer.write_command(w.slot(), params(w))
    assert ParameterRecord.from_bytes(rec.to_bytes()) == rec
    out = w.terminal.insert(w.slot(), NOW)
    assert out.accepted and out.card_type == "PARAMETER"
    assert "parameters 1 recorded" in out.message and "tariff 7 applied" in out.message
    assert w.engine.tariff_version == 7 and w.engine.price_per_kwh == Decimal("0.6120")
    assert w.terminal.parameters == rec
    t = w.engine.profile.thresholds  # the card's levels, in the meter's unit (money: cents)
    assert (t.alarm1, t.alarm2, t.overdraft_limit, t.hoarding_limit) == (
        Decimal("20.00"), Decimal("8.00"), Decimal("5.00"), Decimal("5000.00"))
    assert out.parameters == {
        "version": 1, "alarm1": 2000, "alarm2": 800, "overdraft_limit": 500,
        "hoarding_limit": 500000, "power_limit_w": 6000,
        "friendly_periods": [[22, 24, 127], [0, 6, 96]], "tariff_version": 7,
        "tariff_rates": [[0, "0.6120"]]}
    again = w.terminal.insert(w.slot(), NOW)
    assert "parameters 1 already applied" in again.message
    readback = ReadbackRecord.from_bytes(w.station.read_readback(w.slot()).raw)
    assert readback.tariff_version == 7


def test_parameter_card_with_inconsistent_levels_is_refused_unchanged() -> None:
    w = issue(CardType.PARAMETER)
    before = w.engine.profile.thresholds
    w.station.writer.write_command(w.slot(), replace(params(w), alarm1=200, alarm2=100,
                                              hoarding_limit=150))  # hoarding below alarm1
    out = w.terminal.insert(w.slot(), NOW)
    assert not out.accepted and "hoarding_limit must be above alarm1" in out.message
    assert w.engine.profile.thresholds == before and w.engine.tariff_version == 0


def test_time_of_use_table_is_recorded_not_applied() -> None:
    w = issue(CardType.PARAMETER)
    rates = (TariffRate(0, Decimal("0.3")), TariffRate(8 * 60, Decimal("0.6")))
    w.station.writer.write_command(w.slot(), params(w, rates=rates))
    out = w.terminal.insert(w.slot(), NOW)
    assert "time-of-use table recorded, not applied" in out.message
    assert w.engine.tariff_version == 0 and w.terminal.parameters is not None


def test_check_card_collects_readback_without_credit() -> None:
    w = issue(CardType.CHECK)
    before = registers(w.engine)
    out = w.terminal.insert(w.slot(), NOW)
    assert out.accepted and out.applied_sequence is None
    assert "usage data collected" in out.message
    assert registers(w.engine) == before
    readback = ReadbackRecord.from_bytes(w.station.read_readback(w.slot()).raw)
    assert readback.verify(w.readback_mac_key()).meter_no == w.meter_no


def test_clear_card_test_changes_nothing_clear_events_once() -> None:
    w = issue(CardType.CLEAR)
    w.engine.events.tamper_count = 2
    before = registers(w.engine)
    w.station.writer.write_command(w.slot(), ClearRecord(w.meter_no, 1, ClearAction.TEST, 1))
    assert "nothing changed" in w.terminal.insert(w.slot(), NOW).message
    assert registers(w.engine) == before
    w.station.writer.write_command(w.slot(),
                                   ClearRecord(w.meter_no, 2, ClearAction.CLEAR_EVENTS, 1))
    assert "event counters cleared" in w.terminal.insert(w.slot(), NOW).message
    assert w.engine.events == EventLog()
    w.engine.events.tamper_count = 1
    assert "already applied" in w.terminal.insert(w.slot(), NOW).message
    assert w.engine.events.tamper_count == 1


def test_key_change_card_then_only_rekeyed_cards_work() -> None:
    w = issue(CardType.KEY_CHANGE)
    w.station.writer.write_command(w.slot(), w.station.writer.key_change(w.meter_no, 1, 2))
    out = w.terminal.insert(w.slot(), NOW)
    assert "meter key changed to revision 2" in out.message
    assert w.terminal.key_revision == 2
    # the readback on the key-change card is MAC'd at the new revision, under the meter's
    # own readback key: proof of the change that only the centre's key service can check
    keys = ReadbackKeyService(READBACK_MASTER)
    readback = ReadbackRecord.from_bytes(w.station.read_readback(w.slot()).raw)
    readback.verify(keys.mac_key(w.meter_no, 2))
    for station_key in (keys.mac_key(w.meter_no, 1), derive_meter_key(MASTER, w.meter_no, 2)):
        with pytest.raises(MacError):
            readback.verify(station_key)
    old = issue(CardType.USER)
    old.terminal = w.terminal
    old.engine = w.engine
    before = registers(w.engine)
    refused = w.terminal.insert(old.slot(), NOW)
    assert not refused.accepted and "re-key it" in refused.message
    assert registers(w.engine) == before
    new = issue(CardType.USER, key_revision=2)
    new.terminal, new.engine = w.terminal, w.engine
    new.station.write_vend(new.slot(), new.vend(1, 1000))
    assert w.terminal.insert(new.slot(), NOW).applied_sequence == 1


@pytest.mark.parametrize("card_type", [CardType.PARAMETER, CardType.CLEAR, CardType.KEY_CHANGE])
def test_command_card_without_its_record_is_refused(card_type: CardType) -> None:
    w = issue(card_type)
    before = registers(w.engine)
    out = w.terminal.insert(w.slot(), NOW)
    assert not out.accepted and "card carries no" in out.message
    assert registers(w.engine) == before


def test_wrong_record_for_card_type_is_refused() -> None:
    w = issue(CardType.PARAMETER)
    # a clear command on a parameter card: the station refuses to write it ...
    with pytest.raises(CardError, match="PARAMETER card, ClearRecord needs a CLEAR card"):
        w.station.writer.write_command(w.slot(), ClearRecord(w.meter_no, 1, ClearAction.TEST, 1))
    # ... and bytes put there anyway do not decode as parameters at the meter
    s = CardSession(w.slot())
    s.select_application()
    s.authenticate(1, derive_card_key(MASTER, SERIAL, 1), SERIAL)
    s.write_command(ClearRecord(w.meter_no, 1, ClearAction.TEST, 1).sign(w.meter_key()))
    before = registers(w.engine)
    out = w.terminal.insert(w.slot(), NOW)
    assert not out.accepted and "no valid ParameterRecord" in out.message
    assert registers(w.engine) == before
