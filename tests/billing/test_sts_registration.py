"""A keypad meter and its STS identity are registered in one unit of work, on SQLite and
PostgreSQL, in-process and over the API: whatever refuses the identity (a PAN another meter
has, an operator who may not set it, a currency step a money meter cannot keep) leaves no
meter registered, so the same registration can be made again once corrected."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from rig.billing import BillingCentre, CreditUnit, open_billing
from rig.billing.api import create_app
from rig.billing.centre.errors import Conflict, NotFound, PermissionDenied
from rig.billing.sts_keys import StsKeyService
from rig.errors import BillingError

FIRST, SECOND = "000010020001", "000010020002"
PAN, OTHER_PAN = "600727000000000009", "600727000000000017"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def centre(billing_url: str) -> Iterator[BillingCentre]:
    c = open_billing(billing_url, clock=lambda: NOW,
                     sts_keys=StsKeyService.public_test_keys())
    c.register_operator("ann", "administrator")
    c.register_operator("carol", "cashier")
    c.register_customer("Ada", "ACC-1")
    c.create_tariff("RES", Decimal("0.1500"), datetime(2024, 1, 1, tzinfo=UTC))
    yield c
    c.close()


def register(c: BillingCentre, meter_no: str, sts: dict[str, object], *,
             unit: CreditUnit = CreditUnit.ENERGY_WH, actor: str = "ann") -> None:
    c.register_meter(meter_no, customer_account="ACC-1", profile="iec62056-1p-energy",
                     credit_unit=unit, tariff_code="RES", key_revision=1,
                     commissioning_energy_wh=0, commissioned_at=NOW, actor=actor, sts=sts)


def test_the_meter_and_its_identity_are_registered_together(centre: BillingCentre) -> None:
    register(centre, FIRST, {"pan": PAN, "supply_group": "123456", "key_revision": 2})
    ident = centre.sts_identity(FIRST)
    assert ident is not None and (ident.pan, ident.key_revision) == (PAN, 2)
    actions = [e.action for e in centre.audit_log("meter")]
    assert actions[-2:] == ["meter.register", "meter.sts_register"]


@pytest.mark.parametrize(("why", "sts", "unit", "actor", "refusal"), [
    ("a PAN another meter has", {"pan": PAN, "supply_group": "123456"},
     CreditUnit.ENERGY_WH, "ann", Conflict),
    ("an operator who may not set it", {"pan": OTHER_PAN, "supply_group": "123456"},
     CreditUnit.ENERGY_WH, "carol", PermissionDenied),
    ("a step a money meter cannot keep in cents",
     {"pan": OTHER_PAN, "supply_group": "123456", "currency_step": "0.001"},
     CreditUnit.MONEY_CENTS, "ann", BillingError),
])
def test_an_identity_refused_after_the_meter_is_written_leaves_no_meter(
        centre: BillingCentre, why: str, sts: dict[str, object], unit: CreditUnit,
        actor: str, refusal: type[Exception]) -> None:
    register(centre, FIRST, {"pan": PAN, "supply_group": "123456"})
    with pytest.raises(refusal):
        register(centre, SECOND, sts, unit=unit, actor=actor)
    with pytest.raises(NotFound):
        centre.meter(SECOND)
    assert [m.meter_no for m in centre.meters()] == [FIRST], why
    register(centre, SECOND, {"pan": OTHER_PAN, "supply_group": "123456"})  # nothing in the way
    assert centre.sts_identity(SECOND) is not None


def test_over_the_api_a_refused_identity_registers_no_meter(centre: BillingCentre) -> None:
    register(centre, FIRST, {"pan": PAN, "supply_group": "123456"})
    token = centre.create_api_token("ann", actor="ann").secret
    auth = {"Authorization": f"Bearer {token}"}
    body = {"meter_no": SECOND, "customer_account": "ACC-1", "profile": "iec62056-1p-energy",
            "credit_unit": "energy_wh", "tariff_code": "RES", "key_revision": 1,
            "commissioning_energy_wh": 0, "commissioned_at": NOW.isoformat(),
            "sts": {"pan": PAN, "supply_group": "123456"}}
    with TestClient(create_app(centre)) as client:
        taken = client.post("/meters", headers=auth, json=body)
        assert taken.status_code == 409 and "already registered" in taken.json()["detail"]
        assert client.get(f"/meters/{SECOND}", headers=auth).status_code == 404
        body["sts"] = {"pan": OTHER_PAN, "supply_group": "123456"}
        assert client.post("/meters", headers=auth, json=body).status_code == 201
        ident = client.get(f"/meters/{SECOND}/sts", headers=auth).json()
    assert ident["pan"] == OTHER_PAN
