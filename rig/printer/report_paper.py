"""A billing report (cash-up, daily sales) laid out for a receipt roll: one block per row.

A report's table is wider than 48 columns, so each row prints as "column  value" lines,
value right-aligned, exactly as the CSV writes the cell (Decimals never through float);
the totals close the paper.
"""

from __future__ import annotations

from rig.billing.reports.model import Report
from rig.billing.reports.render import cell_text
from rig.printer.escpos_receipt import paper_lines


def _pair(label: str, value: str, columns: int) -> list[str]:
    if len(label) + 1 + len(value) <= columns:
        return [f"{label}{value:>{columns - len(label)}}"]
    return [label, *paper_lines(f"  {value}", columns)]


def report_lines(report: Report, columns: int) -> list[str]:
    """The printed lines of ``report``: title, subtitle, then each row and the totals."""
    rule = "-" * columns
    out = [report.title.upper().center(columns).rstrip(), *paper_lines(report.subtitle, columns),
           f"printed from data of {report.generated_at:%Y-%m-%d %H:%M:%S} UTC"[:columns]]
    blocks = [*report.rows, *([report.totals] if report.totals else [])]
    for i, row in enumerate(blocks):
        out.append(rule if i < len(report.rows) else "=" * columns)
        for label, value in zip(report.columns, row, strict=True):
            text = cell_text(value)
            if text or i < len(report.rows):
                out += _pair(label, text, columns)
    if not report.rows:
        out += [rule, "(nothing in this period)"]
    return out
