"""Write a :class:`Report` as CSV (exact figures) or as a self-contained HTML page.

The HTML embeds its chart as a base64 PNG so the page is a single file an accountant can mail.
Charts are drawn on a bare ``matplotlib.figure.Figure`` (no pyplot global state), so reports
can be rendered from several threads.
"""

from __future__ import annotations

import base64
import csv
import io
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from rig.billing.reports.model import Cell, Chart, Report
from rig.extras import require
from rig.templating import templates


def cell_text(value: Cell) -> str:
    """Exact text of a cell: Decimals as written (never via float), datetimes in ISO UTC."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


# A spreadsheet runs a cell that starts with one of these as a formula (=HYPERLINK(...) in a
# customer's name would be a live link in the accountant's sheet, =cmd|... worse).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Cell) -> str:
    """``cell_text``, with text that a spreadsheet would run as a formula made inert by a
    leading apostrophe (OWASP's advice for CSV injection). Numbers stay numbers: a negative
    Decimal is written as it is."""
    text = cell_text(value)
    if isinstance(value, str) and text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def to_csv(report: Report) -> str:
    buf = io.StringIO()
    # RFC 4180 line ends: the writer then also quotes a field holding a bare CR, which with
    # "\n" it would write raw and split the row in two.
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([csv_cell(c) for c in report.columns])
    for row in report.rows:
        w.writerow([csv_cell(c) for c in row])
    if report.totals is not None:
        w.writerow([csv_cell(c) for c in report.totals])
    return buf.getvalue()


def write_csv(report: Report, path: Path | str) -> Path:
    out = Path(path)
    out.write_text(to_csv(report), encoding="utf-8", newline="")
    return out


def chart_png(chart: Chart) -> bytes:
    figure = require("plots", "matplotlib.figure", "a report with a chart")
    fig = figure.Figure(figsize=(8, 3.6), dpi=100)
    ax = fig.add_subplot()
    n = max(len(chart.series), 1)
    xs = list(range(len(chart.labels)))
    width = 0.8 if chart.stacked else 0.8 / n
    bottoms = [0.0] * len(xs)
    for k, (name, values) in enumerate(chart.series):
        ys = [float(v) for v in values]
        if chart.stacked:
            ax.bar(xs, ys, width, bottom=bottoms, label=name)
            bottoms = [b + y for b, y in zip(bottoms, ys, strict=True)]
        else:
            ax.bar([x - 0.4 + width * (k + 0.5) for x in xs], ys, width, label=name)
    ax.set_xticks(xs, chart.labels, rotation=30 if len(xs) > 6 else 0, ha="right"
                  if len(xs) > 6 else "center", fontsize=8)
    ax.set_title(chart.title)
    ax.set_ylabel(chart.ylabel)
    if len(chart.series) > 1:
        ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def to_html(report: Report) -> str:
    chart = None
    if report.chart is not None and report.chart.labels:
        chart = base64.b64encode(chart_png(report.chart)).decode("ascii")
    numeric = [
        any(isinstance(r[i], int | Decimal) and not isinstance(r[i], bool) for r in report.rows)
        for i in range(len(report.columns))
    ]
    return templates("rig.billing.reports").get_template("report.html").render(
        report=report, chart_png=chart, numeric=numeric, text=cell_text,
    )


def write_html(report: Report, path: Path | str) -> Path:
    out = Path(path)
    out.write_text(to_html(report), encoding="utf-8")
    return out
