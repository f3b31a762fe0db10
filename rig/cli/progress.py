"""Live progress of a run for a person at the bench: phases, live readings, the summary."""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from rig.report.record import Outcome, Step

_MARK = {
    Outcome.PENDING: ("·", "dim"),
    Outcome.RUNNING: ("▶", "bold yellow"),
    Outcome.PASS: ("✔", "green"),
    Outcome.FAIL: ("✘", "bold red"),
    Outcome.ERROR: ("✘", "bold red"),
    Outcome.SKIPPED: ("-", "dim"),
}


class CycleProgress:
    """A rich Live view implementing the run Observer protocol."""

    def __init__(self, console: Console, phases: list[str]) -> None:
        self._console = console
        self._steps: dict[str, Step] = {p: Step(p) for p in phases}
        self._readings: dict[str, str] = {}
        self._live = Live(self._render(), console=console, refresh_per_second=8,
                          transient=False)
        self._last = 0.0

    def __enter__(self) -> CycleProgress:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.update(self._render())
        self._live.__exit__(None, None, None)

    def _render(self) -> Group:
        table = Table(show_header=False, box=None, padding=(0, 1))
        for step in self._steps.values():
            mark, style = _MARK[step.outcome]
            took = f"{step.duration_s:5.2f} s" if step.started else ""
            table.add_row(Text(mark, style=style), Text(step.name, style=style), took)
        live = "   ".join(f"{k}: [bold]{v}[/]" for k, v in self._readings.items())
        return Group(table, Text.from_markup(live) if live else Text(""))

    def step_started(self, step: Step) -> None:
        self._steps[step.name] = step
        self._live.update(self._render())

    def step_finished(self, step: Step) -> None:
        self._steps[step.name] = step
        self._live.update(self._render())

    def reading(self, values: dict[str, str]) -> None:
        self._readings.update(values)
        now = time.monotonic()
        if now - self._last > 0.1:
            self._last = now
            self._live.update(self._render())

    def print_summary(self, summary: dict[str, object], report: Path,
                      out: Console | None = None) -> None:
        """The result, on `out` (stdout for `rig run`, so it can be captured apart from the
        progress on stderr)."""
        out = out or self._console
        table = Table(title="prepaid cycle", show_header=False)
        for key, value in summary.items():
            style = ""
            if key == "outcome":
                style = "bold green" if value == "pass" else "bold red"
            table.add_row(key, Text(str(value), style=style))
        out.print()
        out.print(table)
        out.print(f"report: [bold]{escape(str(report))}[/]", soft_wrap=True)
