"""`rig billing report …`: the billing reports as CSV files, HTML pages, or CSV on stdout
(cash-up and daily sales also on the station's receipt printer, `--printer`).

Mounted by ``rig/cli/billing.py`` as ``report``; options follow that app: ``--db`` (or
``$RIG_BILLING_DB``) names the database, a refusal or bad input prints the reason on stderr
and exits 2.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from rig.billing import reports
from rig.billing.engine import DEFAULT_URL
from rig.billing.reports import Report
from rig.cli.billing_open import Db, err, fail, open_centre
from rig.cli.billing_print import CodePageOpt, PaperOpt, PrinterOpt, station_printer

if TYPE_CHECKING:
    from rig.printer.station_printer import ReceiptPrinter

report_app = typer.Typer(no_args_is_help=True, add_completion=False,
                         help="Reports: daily sales, cash-up, consumption, arrears, exceptions, "
                              "stale meters (CSV and HTML with charts).")
CsvOut = Annotated[Path | None, typer.Option("--csv", help="write the report as CSV here")]
HtmlOut = Annotated[Path | None, typer.Option("--html", help="write the HTML page here")]


def parse_day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise fail(f"{option} {text!r} is not a date (YYYY-MM-DD)") from None


def emit(report: Report, csv: Path | None, html: Path | None,
         printer: ReceiptPrinter | None = None) -> None:
    """Write the requested files (and print on the receipt printer), or the CSV to stdout
    when no output is asked for."""
    if printer is not None:  # the station's receipt printer (issue 29)
        outcome = printer.print_report(report)
        err.print(str(outcome) if outcome.printed else
                  f"the report did not print: {outcome.message}", highlight=False,
                  markup=False)
        if csv is None and html is None:
            return
    if csv is not None:
        reports.write_csv(report, csv)
        err.print(f"wrote {csv} ({len(report.rows)} rows)")
    if html is not None:
        reports.write_html(report, html)
        err.print(f"wrote {html}")
    if csv is None and html is None:
        typer.echo(reports.to_csv(report), nl=False)


@report_app.command("daily-sales")
def daily_sales(
    start: Annotated[str, typer.Option("--from", help="first UTC day, YYYY-MM-DD")],
    end: Annotated[str | None, typer.Option("--to", help="last UTC day (default: --from)")]
    = None,
    db: Db = DEFAULT_URL, csv: CsvOut = None, html: HtmlOut = None,
    printer: PrinterOpt = None, code_page: CodePageOpt = "CP858", paper_mm: PaperOpt = 80,
) -> None:
    """Sales per day and station: cash, bank-paid and free issues; reversals excluded (on
    the station's receipt printer with --printer)."""
    first = parse_day(start, "--from")
    last = parse_day(end, "--to") if end else first
    with open_centre(db) as c:
        emit(reports.daily_sales(c, first, last), csv, html,
             station_printer(c, printer, code_page, paper_mm))


@report_app.command("cash-up")
def cash_up(
    start: Annotated[str | None, typer.Option("--from", help="sessions opened from this day")]
    = None,
    end: Annotated[str | None, typer.Option("--to", help="… up to this day")] = None,
    db: Db = DEFAULT_URL, csv: CsvOut = None, html: HtmlOut = None,
    printer: PrinterOpt = None, code_page: CodePageOpt = "CP858", paper_mm: PaperOpt = 80,
) -> None:
    """Per cashier session: cash taken, reversals, expected vs counted cash, over/short (on
    the station's receipt printer with --printer)."""
    first = parse_day(start, "--from") if start else None
    last = parse_day(end, "--to") if end else None
    with open_centre(db) as c:
        emit(reports.cash_up(c, first, last), csv, html,
             station_printer(c, printer, code_page, paper_mm))


@report_app.command("consumption")
def consumption(
    start: Annotated[str, typer.Option("--from", help="first month, YYYY-MM")],
    end: Annotated[str, typer.Option("--to", help="last month, YYYY-MM")],
    db: Db = DEFAULT_URL, csv: CsvOut = None, html: HtmlOut = None,
) -> None:
    """Energy per meter per month from readbacks."""
    first = parse_day(f"{start}-01", "--from")
    last = parse_day(f"{end}-01", "--to")
    with open_centre(db) as c:
        emit(reports.consumption(c, first, last), csv, html)


@report_app.command("arrears")
def arrears(db: Db = DEFAULT_URL, csv: CsvOut = None, html: HtmlOut = None) -> None:
    """Every debt: principal, recovered, outstanding, recovery terms."""
    with open_centre(db) as c:
        emit(reports.arrears(c), csv, html)


@report_app.command("exceptions")
def exceptions(db: Db = DEFAULT_URL, csv: CsvOut = None, html: HtmlOut = None) -> None:
    """Reconciliation mismatches with the checks that failed."""
    with open_centre(db) as c:
        emit(reports.exceptions(c), csv, html)


@report_app.command("stale")
def stale(
    days: Annotated[int, typer.Option("--days", min=0, help="no readback for this many days")]
    = 30,
    db: Db = DEFAULT_URL, csv: CsvOut = None, html: HtmlOut = None,
) -> None:
    """Active meters with no readback for N days (or never)."""
    with open_centre(db) as c:
        emit(reports.stale_meters(c, days), csv, html)
