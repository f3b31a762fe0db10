"""What a report is, independent of how it is written: a table, its totals and one chart.

Figures stay exact (``Decimal``/``int``) in the table and the CSV; only the chart converts them
to float, because a picture is not a ledger.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

Cell = str | int | Decimal | date | datetime | None


@dataclass(frozen=True)
class Chart:
    """A bar chart: one bar group per label, one bar per series (stacked if ``stacked``)."""

    title: str
    labels: tuple[str, ...]
    series: tuple[tuple[str, tuple[Decimal | int, ...]], ...]
    ylabel: str
    stacked: bool = False


@dataclass(frozen=True)
class Report:
    name: str
    title: str
    subtitle: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    generated_at: datetime
    totals: tuple[Cell, ...] | None = None
    chart: Chart | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def column(self, name: str) -> list[Cell]:
        """All values of one column (tests and callers read figures by column name)."""
        i = self.columns.index(name)
        return [r[i] for r in self.rows]
