"""The console at a station with a receipt printer (the emulated printer on real TCP): a sale
prints as it is recorded; with the roll out the sale stands, the cashier is told and the
reprint prints the marked receipt once the roll is back."""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rig.billing import BillingCentre, open_billing
from rig.printer.escpos_receipt import vend_lines
from rig.printer.settings import PrinterSettings
from rig.printer.station_printer import ReceiptPrinter
from rig.sim.emulated_printer import EmulatedPrinter
from rig.station.console import create_console_app
from tests.station.console.conftest import METER, STATION, login, open_shift, seed
from tests.station.console.test_routes import sell

pytestmark = pytest.mark.filterwarnings("ignore:Dialect sqlite.*Decimal objects natively")


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[BillingCentre]:
    c = open_billing(f"sqlite:///{tmp_path / 'console.sqlite'}")
    seed(c)
    yield c
    c.close()


def test_the_console_prints_each_sale_and_a_fault_keeps_it(
        seeded: BillingCentre, printer: EmulatedPrinter) -> None:
    rp = ReceiptPrinter(PrinterSettings(url=printer.url, timeout_s=1.0), seeded)
    client = TestClient(create_console_app(seeded, station=STATION, secure_cookies=False,
                                           printer=rp), base_url="http://127.0.0.1")
    csrf = login(client, "carol")
    open_shift(client, csrf)

    printer.set_state(paper_out=True)
    page = html.unescape(sell(client, csrf))
    assert "Sale recorded" in page
    assert "The receipt did not print: the receipt printer at" in page
    assert "is out of paper" in page and "press Reprint" in page
    assert "Reprint on the receipt printer" in page
    (v,) = seeded.vends_for_meter(METER)
    assert v.status.value == "created" and printer.received() == []

    printer.set_state(paper_out=False)
    page = html.unescape(client.post(f"/vends/{v.vend_id}/reprint", data={"csrf": csrf}).text)
    assert "Receipt printed." in page
    (paper,) = printer.received()
    again = seeded.vend_by_id(v.vend_id)
    assert paper.lines == [line.rstrip() for line in vend_lines(again, 48)]
    assert "*** REPRINT 1 ***" in [line.strip() for line in paper.lines]
    actions = [e.action for e in seeded.audit_log("vend") if e.action.startswith("vend.print")]
    assert actions == ["vend.print_failed", "vend.print"]
