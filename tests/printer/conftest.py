"""A billing centre with one vend carrying every receipt component, and an emulated printer
on real TCP and pty ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rig.billing.centre.facade import BillingCentre
from rig.billing.types import VendResult
from rig.printer.settings import PrinterSettings
from rig.sim.emulated_printer import EmulatedPrinter
from tests.billing.ledger import every_component_vend

METER = "000000000300"


@pytest.fixture
def centre_and_vend(tmp_path: Path) -> Iterator[tuple[BillingCentre, VendResult]]:
    c, v = every_component_vend(f"sqlite:///{tmp_path / 'b.sqlite'}", METER)
    yield c, v
    c.close()


@pytest.fixture
def centre(centre_and_vend: tuple[BillingCentre, VendResult]) -> BillingCentre:
    return centre_and_vend[0]


@pytest.fixture
def vend(centre_and_vend: tuple[BillingCentre, VendResult]) -> VendResult:
    return centre_and_vend[1]


@pytest.fixture
def printer() -> Iterator[EmulatedPrinter]:
    p = EmulatedPrinter()
    p.start()
    yield p
    p.stop()


@pytest.fixture
def settings(printer: EmulatedPrinter) -> PrinterSettings:
    return PrinterSettings(url=printer.url, timeout_s=1.0)
