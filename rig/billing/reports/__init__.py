"""Billing reports: daily sales, cashier cash-up, consumption, arrears, reconciliation
exceptions and stale meters — each a :class:`Report` written as CSV or as an HTML page."""

from rig.billing.reports.figures import (
    arrears,
    cash_up,
    consumption,
    daily_sales,
    exceptions,
    stale_meters,
)
from rig.billing.reports.model import Cell, Chart, Report
from rig.billing.reports.render import to_csv, to_html, write_csv, write_html

__all__ = [
    "Cell",
    "Chart",
    "Report",
    "arrears",
    "cash_up",
    "consumption",
    "daily_sales",
    "exceptions",
    "stale_meters",
    "to_csv",
    "to_html",
    "write_csv",
    "write_html",
]
