"""`rig billing vend/reprint --printer URL`: the receipt on the station's ESC/POS printer too.

The options are checked before the sale; the sale is recorded before anything prints; a
printer fault ends the command with the sale
kept, one line saying the receipt did not print and how to reprint, and exit code 0 (the
sale happened). The audit records every print and every failed one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

import typer
from pydantic import ValidationError
from rich.markup import escape

from rig.cli.billing_open import err, fail
from rig.extras import MissingExtra, require

if TYPE_CHECKING:
    from rig.billing.centre.facade import BillingCentre
    from rig.billing.display import Display
    from rig.billing.types import VendResult
    from rig.printer.station_printer import ReceiptPrinter

PrinterOpt = Annotated[str | None, typer.Option(
    "--printer", help="also print on this ESC/POS printer: tcp://HOST[:9100], usb://VID:PID or "
    "a serial port (see docs/printer.md)")]
CodePageOpt = Annotated[str, typer.Option(
    "--code-page", help="the printer's code page (CP858 has the euro sign)")]
PaperOpt = Annotated[int, typer.Option("--paper-mm", help="paper width: 80 or 58")]


def station_printer(centre: BillingCentre, url: str | None, code_page: str,
                    paper_mm: int) -> ReceiptPrinter | None:
    """The printer the options name (None without a URL); a bad option ends the command."""
    from rig.printer.escpos_cache import use_cache
    from rig.printer.settings import PrinterSettings
    from rig.printer.station_printer import ReceiptPrinter

    if not url:
        return None
    if paper_mm not in (58, 80):
        raise fail(f"--paper-mm {paper_mm}: a receipt roll is 80 or 58 mm wide")
    paper: Literal[58, 80] = 58 if paper_mm == 58 else 80
    try:
        require("printer", "escpos", "--printer")
        use_cache()  # before escpos.printer reads its database
        require("printer", "escpos.printer", "--printer")
        return ReceiptPrinter(PrinterSettings(url=url, code_page=code_page, paper_mm=paper),
                              centre)
    except MissingExtra as e:
        raise fail(str(e)) from None
    except ValidationError as e:
        said = e.errors()[0]["msg"].removeprefix("Value error, ")
        raise fail(f"--code-page {code_page!r}: {said}") from None


def print_receipt(printer: ReceiptPrinter, vend: VendResult, *, operator: str,
                  display: Display | None = None) -> None:
    """Print ``vend`` (in ``display``'s currency and zone); one line on stderr either way."""
    outcome = printer.print_vend(vend, operator=operator, display=display)
    if outcome.printed:
        err.print(escape(f"receipt {outcome}"), highlight=False)
    else:
        again = f"rig billing reprint {vend.vend_id} --printer {printer.where}"
        err.print(f"[bold yellow]{escape(str(outcome))}[/]; the sale stands — print it again "
                  f"with `{escape(again)}`", highlight=False)
