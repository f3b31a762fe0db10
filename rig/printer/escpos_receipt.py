"""A receipt as python-escpos commands: the lines the console previews, a QR code, a cut.

The lines are the billing centre's receipt (:func:`rig.billing.receipts.receipt_text`), word
for word, wrapped at the paper's columns; the heading, a reprint mark and the amount paid are
bold. Text goes out in the configured code page (python-escpos sends ESC t and encodes), so
a currency sign the code page lacks is caught here, not found garbled on the paper.
"""

from __future__ import annotations

import textwrap
from typing import Any

from rig.billing.display import Display
from rig.billing.receipts import receipt_text
from rig.billing.types import VendResult
from rig.printer.settings import PrinterSettings

_BOLD_PREFIXES = ("PREPAID ENERGY RECEIPT", "*** REPRINT", "PAID")


def vend_reference(v: VendResult) -> str:
    """What the receipt's QR code carries: enough to find the vend at any station."""
    return f"RIG-VEND {v.vend_id} METER {v.meter_no} SEQ {v.sequence}"


def paper_lines(text: str, columns: int) -> list[str]:
    """``text``'s lines as the printer lays them out: long lines wrap at ``columns``,
    continuation lines keep the first line's indent."""
    out: list[str] = []
    for line in text.splitlines():
        if len(line) <= columns:
            out.append(line)
            continue
        indent = " " * (len(line) - len(line.lstrip()))
        out += textwrap.wrap(line, columns, subsequent_indent=indent, drop_whitespace=True,
                             break_on_hyphens=False) or [""]
    return out


def vend_lines(v: VendResult, columns: int, display: Display | None = None) -> list[str]:
    """The printed lines of a vend's receipt (what a test reads back from the paper), in the
    currency and time zone of ``display`` — the same rows as the text receipt and the PDF."""
    return paper_lines(receipt_text(v, display), columns)


def write_lines(p: Any, lines: list[str], settings: PrinterSettings, *,
                reference: str | None = None) -> None:
    """Send ``lines`` (then a QR code of ``reference`` and a cut) to python-escpos printer
    ``p``."""
    p.hw("INIT")
    p.charcode(settings.code_page)
    p.set(font="b" if settings.paper_mm == 58 else "a", align="left", bold=False)
    for line in lines:
        bold = line.strip().startswith(_BOLD_PREFIXES)
        if bold:
            p.set(bold=True)
        p.textln(line)
        if bold:
            p.set(bold=False)
    if reference:
        p.set(align="center")
        p.qr(reference, native=True, size=4)
        p.set(align="left")
    if settings.cutter:
        p.cut()
    else:
        p.print_and_feed(6)
