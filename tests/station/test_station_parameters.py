"""A PARAMETER card written by the vending station moves the billing centre's hoarding limit with
it, as an administrator's audited change — or, refused, writes no card."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from rig.billing import BillingCentre, CreditUnit, PermissionDenied, open_billing
from rig.card.records import ParameterRecord
from rig.card.session import CardSession
from rig.card_formats.interface import CardKind, ParameterSet, TariffRate
from rig.faults.card_world import NOW, SERIAL, World, make_world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[World, BillingCentre]]:
    w = make_world(personalise=False)
    w.station.personalise(w.slot(), card_serial=SERIAL, meter_no=w.meter_no, key_revision=1,
                          kind=CardKind.PARAMETER)
    centre = open_billing(f"sqlite:///{tmp_path / 'centre.sqlite'}")
    centre.register_operator("ada", "administrator")
    centre.register_operator("carol", "cashier")
    centre.create_tariff("RES", Decimal("0.5283"), NOW)
    centre.register_customer("Ada", "ACC-1")
    centre.register_meter(w.meter_no, customer_account="ACC-1", profile="p",
                          credit_unit=CreditUnit.MONEY_CENTS, tariff_code="RES",
                          key_revision=1, commissioning_energy_wh=0, commissioned_at=NOW,
                          hoarding_limit=900_000)
    w.station.billing = centre
    yield w, centre
    centre.close()


def parameters(w: World, hoarding_limit: int) -> ParameterSet:
    return ParameterSet(
        meter_no=w.meter_no, version=1, alarm1=2000, alarm2=800, overdraft_limit=500,
        hoarding_limit=hoarding_limit, power_limit_w=0, friendly_periods=(),
        tariff_version=1, tariff_rates=(TariffRate(0, Decimal("0.5283")),), key_revision=1)


def test_the_centre_holds_the_limit_the_card_carries(
        world: tuple[World, BillingCentre]) -> None:
    w, centre = world
    w.station.write_parameters(w.slot(), parameters(w, 400_000), actor="ada")
    session = CardSession(w.slot())
    session.select_application()
    written = session.read_command(ParameterRecord)
    assert written is not None and (written.version, written.hoarding_limit) == (1, 400_000)
    assert centre.hoarding(w.meter_no).limit == 400_000
    change = centre.audit_log("meter")[-1]
    assert (change.action, change.actor, change.before["hoarding_limit"],
            change.after["hoarding_limit"]) == ("meter.hoarding_limit", "ada", 900_000, 400_000)
    out = w.terminal.insert(w.slot(), NOW)
    assert out.accepted and w.engine.profile.thresholds.hoarding_limit == Decimal("4000.00")


def test_a_card_without_a_limit_removes_the_centres(world: tuple[World, BillingCentre]) -> None:
    w, centre = world
    w.station.write_parameters(w.slot(), parameters(w, 0), actor="ada")  # 0 = no limit
    assert centre.hoarding(w.meter_no).limit is None


def test_a_cashier_cannot_and_no_card_is_written(world: tuple[World, BillingCentre]) -> None:
    w, centre = world
    w.station.write_parameters(w.slot(), parameters(w, 400_000), actor="ada")
    with pytest.raises(PermissionDenied, match="only an administrator"):
        w.station.write_parameters(w.slot(), replace(parameters(w, 100_000), version=2),
                                   actor="carol")
    session = CardSession(w.slot())
    session.select_application()
    on_card = session.read_command(ParameterRecord)
    assert on_card is not None and (on_card.version, on_card.hoarding_limit) == (1, 400_000)
    assert centre.hoarding(w.meter_no).limit == 400_000
