"""Defects of the vending station's receipt printer on the bench (`part="printer"`): the
receipt-printer scenario certifies the station's printer, so its mutants are printer faults."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Literal

from rig.sim.defects.entry import Defect
from rig.sim.defects.requirements import PRINTER
from rig.sim.emulated_printer import EmulatedPrinter
from rig.sim.escpos_parser import EscPosParser


class _PaperEndNotReported(EmulatedPrinter):
    """The paper-end sensor never reports: with the roll out the printer says it is ready and
    what it is sent never reaches paper."""

    def status_byte(self, n: int) -> int:
        held = self.state
        self.state = replace(held, paper_out=False)
        try:
            return super().status_byte(n)
        finally:
            self.state = held


class _CutIgnoredParser(EscPosParser):
    def _cut(self, how: Literal["full", "partial"]) -> None:
        super()._cut(how)
        self.receipts[-1].cut = None  # the paper fed on, never cut


class _CutterIgnored(EmulatedPrinter):
    """The cutter ignores GS V: receipts come out one long strip, never cut."""

    def _new_parser(self) -> EscPosParser:
        return _CutIgnoredParser(status=self.status_byte)


def _printer(cls: type[EmulatedPrinter]) -> Callable[[EmulatedPrinter], None]:
    def install(printer: EmulatedPrinter) -> None:
        printer.__class__ = cls
        printer._pty_parser = printer._new_parser()
    return install


DEFECTS = (
    Defect("printer-paper-end-not-reported", PRINTER, "the receipt printer's paper-end "
           "sensor never reports: with the roll out it answers ready and prints nothing",
           _printer(_PaperEndNotReported), part="printer"),
    Defect("printer-cutter-ignored", PRINTER, "the receipt printer never cuts the paper",
           _printer(_CutterIgnored), part="printer"),
)
