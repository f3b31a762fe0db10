"""Certification scenario of the vending station's receipt printer (ESC/POS).

Sell, print, and read the printed receipt back from the emulated printer's paper (its parse
of the ESC/POS bytes, not the picture): every line against the sale, the QR code against the
vend, the cut. Then the roll runs out during a sale: the sale stands, nothing prints, the
audit says so; and the reprint after the roll is replaced is marked as one.
"""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

from rig.billing.centre.facade import BillingCentre
from rig.billing.types import VendResult
from rig.errors import RigError
from rig.extras import optional_module
from rig.printer.escpos_receipt import vend_lines, vend_reference
from rig.printer.station_printer import PrintOutcome, ReceiptPrinter
from rig.scenarios.cert_base import commission
from rig.scenarios.steps import OPERATOR, BenchSteps


def _printer(s: BenchSteps) -> ReceiptPrinter:
    settings = s.bench.printer
    if settings is None or s.bench.sim is None:
        raise RigError("the receipt printer scenario reads the paper back from the emulated "
                       "bench's printer: this bench has none")
    centre = s.billing if isinstance(s.billing, BillingCentre) else None
    return ReceiptPrinter(settings, centre)


def _paper(s: BenchSteps, since: int) -> dict[str, Any]:
    assert s.bench.sim is not None
    return s.bench.sim.call("printer_receipts", since=since)


def _print_and_read(s: BenchSteps, printer: ReceiptPrinter,
                    vend: VendResult) -> tuple[PrintOutcome, list[dict[str, Any]]]:
    since = _paper(s, 0)["count"]
    outcome = printer.print_vend(vend, operator=OPERATOR)
    paper = _paper(s, since)
    return outcome, paper["receipts"]


def _check_receipt(s: BenchSteps, vend: VendResult, printed: dict[str, Any],
                   columns: int) -> None:
    """Every printed line against the sale's receipt, the QR code, the cut; the picture of
    the paper attached as evidence."""
    expected = vend_lines(vend, columns)
    lines = printed["lines"]
    _attach_paper(s, vend, lines)
    s.record.measure("printed lines", len(lines), equals=len(expected))
    for i, want in enumerate(expected):
        got = lines[i] if i < len(lines) else "(missing)"
        s.record.measure(f"line {i + 1}", got, equals=want.rstrip())
    s.record.measure("QR code", " | ".join(c["data"] for c in printed["codes"]
                                          if c["kind"] == "qr"), equals=vend_reference(vend))
    s.record.measure("paper cut", printed["cut"], equals="full" if
                     s.bench.printer and s.bench.printer.cutter else None)


def attach_printed_receipt(s: BenchSteps, vend: VendResult) -> None:
    """Print ``vend`` on the emulated bench's printer and attach what came out (the parsed
    lines and the paper's PNG) to the current step; the printer's outcome is evidence, never
    the step's verdict (a sale does not depend on its receipt). Nothing without an emulated
    printer or rig[printer]."""
    if s.bench.sim is None or s.bench.printer is None or optional_module("escpos") is None:
        return
    outcome, printed = _print_and_read(s, _printer(s), vend)
    if not printed:
        s.record.attach(f"receipt of vend {vend.vend_id} as printed", str(outcome))
        return
    _attach_paper(s, vend, printed[0]["lines"])


def _attach_paper(s: BenchSteps, vend: VendResult, lines: list[str]) -> None:
    """The printed lines and the picture of the newest receipt on the paper, as evidence."""
    assert s.bench.sim is not None
    s.record.attach(f"receipt of vend {vend.vend_id} as printed", "\n".join(lines))
    png = s.bench.sim.call("printer_png", index=-1)["png"]
    s.record.attach_png(f"receipt of vend {vend.vend_id} (paper)", base64.b64decode(png))


def receipt_printer(s: BenchSteps, amount: Decimal = Decimal("15.50")) -> None:
    """The station prints what it sold; a printer fault never costs a sale; a reprint is
    marked."""
    printer = _printer(s)
    columns = printer.settings.columns
    commission(s)
    with s.record.step("sell and print"):
        vend = s.vend(amount)
        outcome, printed = _print_and_read(s, printer, vend)
        s.record.measure("printer outcome", str(outcome), equals=str(PrintOutcome(
            True, printer.where)))
        s.record.measure("receipts cut", len(printed), equals=1)
        if printed:
            _check_receipt(s, vend, printed[0], columns)
    with s.record.step("card written and applied"):  # the centre sells again after this
        s.write_vend(vend)
        s.record.measure("card accepted", s.insert_into_meter().accepted, equals=True)
        s.settle()
    with s.record.step("paper out during a sale"):
        s.bench.sim.call("printer_state", paper_out=True)  # type: ignore[union-attr]
        try:
            lost = s.vend(amount)
            outcome, printed = _print_and_read(s, printer, lost)
        finally:
            s.bench.sim.call("printer_state", paper_out=False)  # type: ignore[union-attr]
        s.record.measure("printed", outcome.printed, equals=False)
        s.record.measure("reason given", outcome.reason, equals="paper out")
        s.record.measure("receipts cut", len(printed), equals=0)
        s.record.measure("sale stands", s.billing.vend_by_id(lost.vend_id).status.value,
                         equals="created")
        if printer.centre is not None:
            failed = [e for e in printer.centre.audit_log("vend")
                      if e.action == "vend.print_failed" and e.entity_id == str(lost.vend_id)]
            s.record.measure("audit records the failed print", len(failed), equals=1)
    with s.record.step("reprint after the roll is replaced"):
        s.billing.reprint(lost.vend_id, operator=OPERATOR)
        again = s.billing.vend_by_id(lost.vend_id)
        outcome, printed = _print_and_read(s, printer, again)
        s.record.measure("printed", outcome.printed, equals=True)
        s.record.measure("receipts cut", len(printed), equals=1)
        if printed:
            marked = "*** REPRINT 1 ***" in [line.strip() for line in printed[0]["lines"]]
            s.record.measure("reprint mark", marked, equals=True)
            _check_receipt(s, again, printed[0], columns)
