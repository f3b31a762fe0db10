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

from rig.billing.receipts import WIDTH
from rig.billing.types import CreditUnit, VendResult

LINE_IN = 0.16  # line pitch, inches
PAPER_IN = 80 / 25.4
RC = {"pdf.compression": 0, "pdf.use14corefonts": True, "font.family": "monospace",
      "font.monospace": ["Courier"], "font.size": 7.5}


def receipt_lines(v: VendResult) -> list[tuple[str, bool]]:
    """(text, bold) rows: heading, vend data, every priced component, total and credit."""
    unit = "Wh" if v.credit_unit is CreditUnit.ENERGY_WH else "cents"
    rows: list[tuple[str, bool]] = [("PREPAID ENERGY RECEIPT".center(WIDTH), True)]
    if v.reprint_count:
        rows.append((f"*** REPRINT {v.reprint_count} ***".center(WIDTH), True))
    rows += [(t, False) for t in (
        f"meter     {v.meter_no}", f"card      {v.card_serial}", f"sequence  {v.sequence}",
        f"date      {v.created_at:%Y-%m-%d %H:%M:%S} UTC",
        f"station   {v.station}  operator {v.operator}",
        f"tariff    {v.tariff_code} v{v.tariff_version} @ {v.price_per_kwh}/kWh",
        "-" * WIDTH)]
    for line in v.receipt:
        rows.append((f"{line.label:<26}{line.amount:>14}", False))
        detail = line.detail
        while detail:
            rows.append((f"  {detail[:WIDTH - 2]}", False))
            detail = detail[WIDTH - 2:]
    rows += [("-" * WIDTH, False), (f"{'PAID':<26}{v.amount:>14}", True),
             (f"credit    {v.credit} {unit}", True), (f"status    {v.status.value}", False)]
    return [(_latin1(t), b) for t, b in rows]


def _latin1(text: str) -> str:
    """Core fonts cover Latin-1 only; spell out the few other signs pricing details use."""
    text = text.replace("×", "x").replace("…", "...").replace("≥", ">=").replace("≤", "<=")
    return text.encode("latin-1", "replace").decode("latin-1")


def receipt_pdf(v: VendResult) -> bytes:
    rows = receipt_lines(v)
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


def write_receipt_pdf(v: VendResult, path: Path | str) -> Path:
    out = Path(path)
    out.write_bytes(receipt_pdf(v))
    return out
