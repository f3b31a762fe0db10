"""The station's printer over real TCP and a real pty, and every fault a cashier meets: the
sale stands, the outcome names the fault, the audit records it, the reprint is marked."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from rig.billing.centre.facade import BillingCentre
from rig.billing.display import Display
from rig.billing.types import VendResult
from rig.printer.escpos_receipt import vend_lines, vend_reference
from rig.printer.settings import PrinterSettings
from rig.printer.station_printer import ReceiptPrinter
from rig.sim.emulated_printer import EmulatedPrinter


def print_audit(centre: BillingCentre, vend_id: int) -> list[tuple[str, dict[str, Any]]]:
    return [(e.action, e.after) for e in centre.audit_log("vend")
            if e.entity_id == str(vend_id) and e.action.startswith("vend.print")]


@pytest.mark.parametrize("port", ["tcp", "pty"])
def test_a_sale_prints_line_for_line(port: str, centre: BillingCentre, vend: VendResult,
                                     printer: EmulatedPrinter) -> None:
    url = printer.url if port == "tcp" else printer.port_path
    s = PrinterSettings(url=url, timeout_s=1.0)
    outcome = ReceiptPrinter(s, centre).print_vend(vend)
    assert outcome.printed, outcome
    (paper,) = printer.received()
    assert paper.lines == [line.rstrip() for line in vend_lines(vend, 48)]
    assert METER_LINE(vend) in paper.lines
    for component in vend.receipt:  # the tariff breakdown, every amount
        assert any(line.startswith(Display.label(component.label))
                   and line.endswith(f" {component.amount}")
                   for line in paper.lines), component
    bold = [i.text.strip() for i in paper.items if getattr(i, "bold", False)]
    assert bold[0] == "PREPAID ENERGY RECEIPT" and bold[-1].startswith("PAID")
    assert [c.data for c in paper.codes] == [vend_reference(vend)]
    assert paper.cut == "full"
    (event,) = print_audit(centre, vend.vend_id)
    assert event == ("vend.print", {"printed": True, "printer": printer.url if port == "tcp"
                                    else printer.port_path, "reason": "", "reprint": 0})


def METER_LINE(v: VendResult) -> str:
    return f"meter     {v.meter_no}"


@pytest.mark.parametrize(("state", "reason", "said"), [
    ({"paper_out": True}, "paper out", "is out of paper"),
    ({"cover_open": True}, "cover open", "has its cover open"),
    ({"answering": False}, "not answering", "does not answer"),
])
def test_a_printer_fault_never_costs_the_sale(state: dict[str, bool], reason: str, said: str,
                                             centre: BillingCentre, vend: VendResult,
                                             printer: EmulatedPrinter,
                                             settings: PrinterSettings) -> None:
    printer.set_state(**state)
    outcome = ReceiptPrinter(settings, centre).print_vend(vend)
    assert not outcome.printed and outcome.reason == reason
    assert str(outcome).startswith("the receipt did not print: ") and said in str(outcome)
    assert printer.received() == []
    assert centre.vend_by_id(vend.vend_id).status.value == "created"  # the sale stands
    (event,) = print_audit(centre, vend.vend_id)
    assert event[0] == "vend.print_failed"
    assert (event[1]["printed"], event[1]["reason"]) == (False, reason)
    assert centre.verify_audit_chain().ok

    printer.set_state(paper_out=False, cover_open=False, answering=True)
    centre.reprint(vend.vend_id, operator="carol")
    again = ReceiptPrinter(settings, centre).print_vend(centre.vend_by_id(vend.vend_id))
    assert again.printed, again
    (paper,) = printer.received()
    assert "*** REPRINT 1 ***" in [line.strip() for line in paper.lines]
    assert [a for a, _ in print_audit(centre, vend.vend_id)] == ["vend.print_failed",
                                                                 "vend.print"]


def test_an_unreachable_printer_is_named(centre: BillingCentre, vend: VendResult) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = PrinterSettings(url=f"tcp://127.0.0.1:{port}", timeout_s=1.0)
    outcome = ReceiptPrinter(settings, centre).print_vend(vend)
    assert not outcome.printed and outcome.reason == "unreachable"
    assert f"127.0.0.1:{port}" in outcome.message
    assert centre.vend_by_id(vend.vend_id).status.value == "created"


def test_a_58mm_roll_wraps_long_lines(vend: VendResult, printer: EmulatedPrinter) -> None:
    settings = PrinterSettings(url=printer.url, paper_mm=58, timeout_s=1.0)
    assert ReceiptPrinter(settings).print_vend(vend).printed
    (paper,) = printer.received()
    assert max(len(line) for line in paper.lines) <= 42
    detail = next(line.detail for line in vend.receipt if len(line.detail) > 42)
    assert " ".join(detail.split()) in " ".join(" ".join(paper.lines).split())
    assert paper.lines == [line.rstrip() for line in vend_lines(vend, 42)]


@pytest.mark.parametrize(("profile", "code_page", "said"), [
    ("NoSuchModel", "CP858", "'NoSuchModel' is not a python-escpos printer profile"),
    ("simple", "CP858", "printer profile simple has no code page CP858 (it has: CP437"),
])
def test_a_profile_that_cannot_print_is_named(profile: str, code_page: str, said: str,
                                              centre: BillingCentre, vend: VendResult,
                                              printer: EmulatedPrinter) -> None:
    settings = PrinterSettings(url=printer.url, profile=profile, code_page=code_page)
    outcome = ReceiptPrinter(settings, centre).print_vend(vend)
    assert not outcome.printed and outcome.reason == "printer profile"
    assert said in outcome.message
    assert printer.received() == []
    assert centre.vend_by_id(vend.vend_id).status.value == "created"
