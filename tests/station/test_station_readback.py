"""The vending station cannot forge a readback: it holds the issuer master key, so it can derive
the meter key and both card keys and can even write the card's READBACK file, but the meter MACs
its readback under its own key of the readback hierarchy, which only the billing centre's key
service derives. A station-made readback uploads as unverified and confirms nothing; the
meter's next readback on the same card confirms the vend."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from rig.billing import BillingCentre, CreditUnit, VendStatus, open_billing
from rig.card.application import KEY_METER
from rig.card.keys import derive_meter_key, derive_readback_key
from rig.card.records import CreditUnit as CardCreditUnit
from rig.card.records import ReadbackRecord
from rig.card.session import CardSession
from rig.faults.card_world import MASTER, NOW, SERIAL, World, make_world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[World, BillingCentre]]:
    w = make_world()
    centre = open_billing(f"sqlite:///{tmp_path / 'centre.sqlite'}", clock=lambda: NOW)
    centre.register_operator("carol", "cashier")
    centre.register_station("DESK-1")
    centre.create_tariff("RES", Decimal("0.5283"), NOW)
    centre.register_customer("Ada", "ACC-1")
    centre.register_meter(w.meter_no, customer_account="ACC-1", profile="p",
                          credit_unit=CreditUnit.MONEY_CENTS, tariff_code="RES",
                          key_revision=w.terminal.key_revision, commissioning_energy_wh=0,
                          commissioned_at=NOW)
    centre.issue_card(w.meter_no, SERIAL)
    w.station.billing = centre
    yield w, centre
    centre.close()


def test_a_readback_the_station_writes_confirms_nothing(
        world: tuple[World, BillingCentre]) -> None:
    w, centre = world
    vend = centre.vend(w.meter_no, Decimal("10.00"), request_id="v1", station="DESK-1",
                       operator="carol")
    w.station.write_vend(w.slot(), vend)
    assert centre.vend_by_id(vend.vend_id).status is VendStatus.WRITTEN

    # The station claims the meter applied the vend: a readback MAC'd under the meter key it
    # derives from the issuer master, written to READBACK with the card key 02 it also derives.
    meter_key = derive_meter_key(MASTER, w.meter_no, w.terminal.key_revision)
    session = CardSession(w.slot())
    session.select_application()
    session.authenticate(KEY_METER, derive_readback_key(meter_key, SERIAL), SERIAL)
    session.write_readback(ReadbackRecord(
        meter_no=w.meter_no, energy_wh=0, remaining=vend.credit, overdraft=0,
        purchase_count=1, last_sequence=vend.sequence, cumulative_purchase=vend.credit,
        credit_unit=CardCreditUnit.MONEY_CENTS, relay_open=False, alarm_active=False,
        alarm_count=0, cutoff_count=0, tamper_count=0, power_down_count=0, timestamp=NOW,
        tariff_version=vend.tariff_version), meter_key)

    forged = w.station.upload_readback(w.slot()).reconciliation
    assert forged.evidence["mac"]["verified_by_centre"] is False
    assert "mac_verified" in {c.name for c in forged.failed}
    assert forged.confirmed_vend_ids == ()
    assert centre.vend_by_id(vend.vend_id).status is VendStatus.WRITTEN

    # The customer inserts the card: the meter applies the vend and writes its own readback.
    assert w.terminal.insert(w.slot(), NOW).applied_sequence == vend.sequence
    genuine = w.station.upload_readback(w.slot()).reconciliation
    assert genuine.evidence["mac"]["verified_by_centre"] is True
    assert genuine.confirmed_vend_ids == (vend.vend_id,)
    assert centre.vend_by_id(vend.vend_id).status is VendStatus.CONFIRMED
