"""Receipts as PDF, beside the text receipt: the same lines, typeset for an 80 mm printer.

Drawn with matplotlib's PDF backend (already a dependency) using the PDF core fonts, so no
font is embedded and the text stays searchable: every string is a literal in the content
stream, which is written uncompressed so auditors (and tests) can read it with a text tool.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib
from matplotlib.backends.backend_pdf import FigureCanvasPdf
from matplotlib.figure import Figure

from rig.billing.display import Display
from rig.billing.receipts import receipt_rows
from rig.billing.types import VendResult

LINE_IN = 0.16  # line pitch, inches
PAPER_IN = 80 / 25.4
RC = {"pdf.compression": 0, "pdf.use14corefonts": True, "font.family": "monospace",
      "font.monospace": ["Courier"], "font.size": 7.5}


def receipt_lines(v: VendResult, display: Display | None = None) -> list[tuple[str, bool]]:
    """The receipt's rows (:func:`rig.billing.receipts.receipt_rows`) in the PDF's fonts."""
    return [(_latin1(t), b) for t, b in receipt_rows(v, display)]


def _latin1(text: str) -> str:
    """Core fonts cover WinAnsi (cp1252: Latin-1 plus €), which matplotlib writes them in;
    spell out the few other signs pricing details use."""
    text = text.replace("×", "x").replace("…", "...").replace("≥", ">=").replace("≤", "<=")
    return text.encode("cp1252", "replace").decode("cp1252")


def receipt_pdf(v: VendResult, display: Display | None = None) -> bytes:
    rows = receipt_lines(v, display)
    height = LINE_IN * (len(rows) + 2)
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(PAPER_IN, height))
        for i, (text, bold) in enumerate(rows):
            fig.text(0.06, 1 - (i + 1) * LINE_IN / height, text,
                     fontweight="bold" if bold else "normal", va="top")
        buf = io.BytesIO()
        FigureCanvasPdf(fig).print_pdf(buf, metadata={
            "Title": f"Receipt vend {v.vend_id} meter {v.meter_no} seq {v.sequence}",
            "Creator": "rig billing centre"})
    return buf.getvalue()


def write_receipt_pdf(v: VendResult, path: Path | str, display: Display | None = None) -> Path:
    out = Path(path)
    out.write_bytes(receipt_pdf(v, display))
    return out
