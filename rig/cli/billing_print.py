"""`rig billing vend/reprint --printer URL`: the receipt on the station's ESC/POS printer too.

The sale is recorded before anything prints; a printer fault ends the command with the sale
kept, one line saying the receipt did not print and how to reprint, and exit code 0 (the
sale happened). The audit records every print and every failed one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

import typer
from pydantic import ValidationError
from rich.markup import escape

from rig.cli.billing_open import err, fail

if TYPE_CHECKING:
    from rig.billing.service import BillingCentre
    from rig.billing.types import VendResult

PrinterOpt = Annotated[str | None, typer.Option(
    "--printer", help="also print on this ESC/POS printer: tcp://HOST[:9100], usb://VID:PID or "
    "a serial port (see docs/printer.md)")]
CodePageOpt = Annotated[str, typer.Option(
    "--code-page", help="the printer's code page (CP858 has the euro sign)")]
PaperOpt = Annotated[int, typer.Option("--paper-mm", help="paper width: 80 or 58")]


def print_receipt(centre: BillingCentre, vend: VendResult, *, url: str, code_page: str,
                  paper_mm: int, operator: str) -> None:
    """Print ``vend`` on the printer at ``url``; one line on stderr either way."""
    from rig.extras import MissingExtra
    from rig.printer.settings import PrinterSettings
    from rig.printer.station_printer import ReceiptPrinter

    if paper_mm not in (58, 80):
        raise fail(f"--paper-mm {paper_mm}: a receipt roll is 80 or 58 mm wide")
    paper: Literal[58, 80] = 58 if paper_mm == 58 else 80
    try:
        settings = PrinterSettings(url=url, code_page=code_page, paper_mm=paper)
        outcome = ReceiptPrinter(settings, centre).print_vend(vend, operator=operator)
    except ValidationError as e:
        raise fail(f"--printer {url!r}: {e.errors()[0]['msg']}") from None
    except MissingExtra as e:
        raise fail(str(e)) from None
    if outcome.printed:
        err.print(escape(str(outcome)), highlight=False)
    else:
        err.print(f"[bold yellow]{escape(str(outcome))}[/]; the sale stands — print it again with "
                  f"`rig billing reprint {vend.vend_id} --printer {url}`", highlight=False)
