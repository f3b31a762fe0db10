"""A billing centre with one vend carrying every receipt component, and an emulated printer
on real TCP and pty ports."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from rig.billing import Tax, open_billing
from rig.billing.service import BillingCentre
from rig.billing.types import VendResult
from rig.printer.settings import PrinterSettings
from rig.sim.emulated_printer import EmulatedPrinter
from tests.billing.ledger import T0, Clock, add_meter

METER = "000000000300"


@pytest.fixture
def centre(tmp_path: Path) -> Iterator[BillingCentre]:
    c = open_billing(f"sqlite:///{tmp_path / 'b.sqlite'}",
                     clock=Clock(datetime(2024, 3, 2, 9, tzinfo=UTC)))
    c.create_tariff("RESV", Decimal("0.1875"), T0, fixed_monthly=Decimal("4.00"),
                    taxes=(Tax("VAT", Decimal("15")), Tax("levy", Decimal("2.5"))))
    c.register_station("DESK-1")
    c.register_operator("carol", "cashier")
    add_meter(c, METER, tariff="RESV", unit="energy_wh")
    c.add_debt(METER, Decimal("50.00"), "arrears (old meter)", recovery_percent=Decimal("10"))
    yield c
    c.close()


@pytest.fixture
def vend(centre: BillingCentre) -> VendResult:
    return centre.vend(METER, Decimal("57.35"), request_id="r", station="DESK-1",
                       operator="carol")


@pytest.fixture
def printer() -> Iterator[EmulatedPrinter]:
    p = EmulatedPrinter()
    p.start()
    yield p
    p.stop()


@pytest.fixture
def settings(printer: EmulatedPrinter) -> PrinterSettings:
    return PrinterSettings(url=printer.url, timeout_s=1.0)
