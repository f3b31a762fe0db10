"""The station's card writer as the console sees it, on the emulated bench's real PC/SC
reader: what the cashier is told when the card is missing, pulled out mid-write, or is the
wrong card — and that a retry after a pulled card writes the sale exactly once."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from rig.billing import BillingCentre, VendResult, VendStatus, open_billing
from rig.card.pcsc import PcscConnection
from rig.profile import CreditKind, MeterProfile
from rig.sim.emulated_bench import EmulatedBench, lab_master_key
from rig.station.console import PcscCardWriter, WriteProblem

from .conftest import STATION, seed

pytestmark = pytest.mark.filterwarnings("ignore:.*Decimal.*")


@dataclass
class Station:
    bench: EmulatedBench
    centre: BillingCentre
    writer: PcscCardWriter
    meter_no: str
    card: str
    key_revision: int


@pytest.fixture(scope="module")
def station(meter_profile: MeterProfile,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Station]:
    db: Path = tmp_path_factory.mktemp("console-writer") / "billing.sqlite"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Decimal.*")
        centre = open_billing(f"sqlite:///{db}")
    unit = "money_cents" if meter_profile.credit.unit is CreditKind.MONEY else "energy_wh"
    with EmulatedBench(meter_profile) as bench:
        meter_no, card = bench.meter.meter_no, uuid.uuid4().hex[:16].upper()
        seed(centre, meter_no=meter_no, card=card, unit=unit, profile=meter_profile.name)
        centre.open_session("carol", STATION)
        assert bench.parts is not None
        writer = PcscCardWriter(centre, lab_master_key(), bench.parts.card_reader)
        writer.personalise(card, meter_no, meter_profile.card.key_revision)
        yield Station(bench, centre, writer, meter_no, card, meter_profile.card.key_revision)
    centre.close()


def sell(s: Station, amount: str) -> VendResult:
    return s.centre.vend(s.meter_no, Decimal(amount), request_id=uuid.uuid4().hex,
                         station=STATION, operator="carol")


def test_no_card_then_card_pulled_mid_write_then_retry_writes_once(
        station: Station, monkeypatch: pytest.MonkeyPatch) -> None:
    vend = sell(station, "20.00")
    station.bench.move_card("hand")
    with pytest.raises(WriteProblem, match=r"No card in the reader — .* retry") as missing:
        station.writer.write_vend(vend)
    assert missing.value.retry
    station.bench.move_card("writer")

    original = station.writer.station_for(station.meter_no).write_vend
    apdus = 0

    class PulledOut:
        """The reader connection, until the customer pulls the card after a few APDUs."""

        def __init__(self, conn: PcscConnection) -> None:
            self.conn = conn

        def transmit(self, apdu: bytes) -> bytes:
            nonlocal apdus
            apdus += 1
            if apdus == 6:
                station.bench.move_card("hand")
            return self.conn.transmit(apdu)

    monkeypatch.setattr(station.writer.station_for(station.meter_no), "write_vend",
                        lambda conn, v: original(PulledOut(conn), v))
    with pytest.raises(WriteProblem, match="Card removed — retry") as pulled:
        station.writer.write_vend(vend)
    assert pulled.value.retry and apdus == 6
    assert station.centre.vend_by_id(vend.vend_id).status is VendStatus.CREATED

    monkeypatch.undo()
    station.bench.move_card("writer")
    station.writer.write_vend(vend)  # the cashier's retry
    assert station.centre.vend_by_id(vend.vend_id).status is VendStatus.WRITTEN
    outcome = station.bench.move_card("meter")
    assert outcome is not None
    station.bench.move_card("writer")
    result = station.writer.upload_readback()
    assert result.verdict.value == "balanced" and result.confirmed_vend_ids == (vend.vend_id,)


def test_a_card_of_another_meter_is_refused_without_retry(station: Station) -> None:
    station.bench.move_card("writer")
    other = "000000000077"
    mine = station.centre.meter(station.meter_no)
    station.centre.register_meter(other, customer_account="ACC-1", profile=mine.profile,
                                  credit_unit=mine.credit_unit,
                                  tariff_code="RES", key_revision=1, commissioning_energy_wh=0,
                                  commissioned_at=station.centre.now())
    station.centre.issue_card(other, "CARD-77")
    vend = station.centre.vend(other, Decimal("5.00"), request_id=uuid.uuid4().hex,
                               station=STATION, operator="carol")
    with pytest.raises(WriteProblem, match=r"The card was refused: .* bound to meter") as e:
        station.writer.write_vend(vend)
    assert not e.value.retry
    assert station.centre.vend_by_id(vend.vend_id).status is VendStatus.CREATED


def test_a_meter_whose_profile_the_station_lacks_is_not_written_in_a_guessed_format(
        station: Station) -> None:
    """The card format comes from the meter's registered profile: a profile this station
    does not have is named, and no card is touched."""
    station.bench.move_card("writer")
    stranger = "000000000078"
    mine = station.centre.meter(station.meter_no)
    station.centre.register_meter(stranger, customer_account="ACC-1", profile="acme-9p",
                                  credit_unit=mine.credit_unit, tariff_code="RES",
                                  key_revision=1, commissioning_energy_wh=0,
                                  commissioned_at=station.centre.now())
    station.centre.issue_card(stranger, "CARD-78")
    vend = station.centre.vend(stranger, Decimal("5.00"), request_id=uuid.uuid4().hex,
                               station=STATION, operator="carol")
    with pytest.raises(WriteProblem, match=r"cannot tell how to write meter 000000000078's "
                                           r"card: meter profile 'acme-9p' not found") as e:
        station.writer.write_vend(vend)
    assert not e.value.retry
    assert station.centre.vend_by_id(vend.vend_id).status is VendStatus.CREATED
