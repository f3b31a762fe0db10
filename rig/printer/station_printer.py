"""Print a sale's receipt at the vending station, without ever making the sale depend on it.

The sale is recorded before anything is printed; a printer that is out of paper, has its
cover open, is offline or stops answering gives a :class:`PrintOutcome` that says so (for
the console's "did not print — reprint" and the CLI's one line), and the audit records it.
"""

from __future__ import annotations

import codecs
import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rig.billing.display import Display
from rig.billing.types import VendResult
from rig.printer.driver import PrinterFault, open_escpos, read_status
from rig.printer.escpos_receipt import vend_lines, vend_reference, write_lines
from rig.printer.settings import PrinterSettings

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from rig.billing.centre.facade import BillingCentre
    from rig.billing.reports.model import Report


@dataclass(frozen=True)
class PrintOutcome:
    printed: bool
    printer: str
    reason: str = ""  # paper out, cover open, offline, not answering, unreachable, code page
    message: str = ""  # for the cashier

    def __str__(self) -> str:
        return f"printed on {self.printer}" if self.printed else \
            f"the receipt did not print: {self.message}"


def unprintable(lines: list[str], code_page: str) -> str:
    """The characters of ``lines`` that ``code_page`` cannot print ('' if none)."""
    codec = codecs.lookup(code_page.replace("_", "-"))
    return "".join(sorted({ch for line in lines for ch in line
                           if not _encodes(codec, ch)}))


def _encodes(codec: codecs.CodecInfo, ch: str) -> bool:
    try:
        codec.encode(ch)
    except UnicodeEncodeError:
        return False
    return True


class ReceiptPrinter:
    """The station's receipt printer; ``centre`` given: every print is audited there."""

    def __init__(self, settings: PrinterSettings, centre: BillingCentre | None = None) -> None:
        self.settings = settings
        self.centre = centre

    @property
    def where(self) -> str:
        return self.settings.url or "(no printer)"

    def print_lines(self, lines: list[str], reference: str | None = None) -> None:
        """Print ``lines`` (and a QR code of ``reference``) and cut; PrinterFault if not."""
        missing = unprintable(lines, self.settings.code_page)
        if missing:
            raise PrinterFault("code page", f"code page {self.settings.code_page} of the "
                               f"printer at {self.where} cannot print {missing!r}: set "
                               "[printer] code_page to one that can (e.g. CP858 for €)")
        p = open_escpos(self.settings)
        try:
            fault = read_status(p, self.where).fault(self.where)
            if fault is not None:
                raise fault
            try:
                write_lines(p, lines, self.settings, reference=reference)
            except OSError as e:  # the connection broke or timed out mid-receipt
                raise PrinterFault("not answering", f"the receipt printer at {self.where} "
                                   f"stopped answering while printing ({e})") from None
            after = read_status(p, self.where).fault(self.where)
            if after is not None:  # e.g. the roll ran out during this receipt
                raise PrinterFault(after.reason, f"{after} while printing")
        finally:
            with contextlib.suppress(Exception):
                p.close()

    def _attempt(self, lines: list[str], reference: str | None) -> PrintOutcome:
        try:
            self.print_lines(lines, reference)
        except PrinterFault as e:
            return PrintOutcome(False, self.where, e.reason, str(e))
        except Exception as e:  # a library's own error: said, and the sale still stands
            log.warning("receipt printer %s failed: %r", self.where, e)
            return PrintOutcome(False, self.where, "printer error", f"the receipt printer at "
                                f"{self.where} failed: {type(e).__name__}: {e}")
        return PrintOutcome(True, self.where)

    def print_report(self, report: Report) -> PrintOutcome:
        """Print a billing report (cash-up, daily sales) on the roll; never raises for a
        printer fault."""
        from rig.printer.report_paper import report_lines

        return self._attempt(report_lines(report, self.settings.columns), None)

    def print_vend(self, vend: VendResult, *, operator: str | None = None,
                   display: Display | None = None) -> PrintOutcome:
        """Print ``vend``'s receipt (in ``display``'s currency and zone); never raises for a
        printer fault (the sale stands)."""
        outcome = self._attempt(vend_lines(vend, self.settings.columns, display),
                                vend_reference(vend))
        if self.centre is not None:
            from rig.printer.print_audit import record_print

            record_print(self.centre, vend.vend_id, operator=operator or vend.operator,
                         printer=self.where, printed=outcome.printed, reason=outcome.reason,
                         reprint=vend.reprint_count)
        return outcome
