"""`rig run --suite NAME`: run a test suite shipped with rig, with a live display.

The suite is pytest underneath (so a lab can also run it with plain pytest); this only adds
the progress display and puts JUnit XML, allure-results and the certification summary into
one run folder.
"""

from __future__ import annotations

from contextlib import ExitStack
from importlib.resources import as_file, files
from pathlib import Path
from typing import ClassVar

import pytest
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

SUITES = {"certification": "rig.suites.certification"}


def suite_package(name: str) -> str:
    """The installed package holding suite `name` (ValueError naming the known ones)."""
    if name not in SUITES:
        raise ValueError(f"unknown suite {name!r} (known: {', '.join(SUITES)})")
    return SUITES[name]


class _LiveSuite:
    """A pytest plugin object that shows each test's outcome as it happens: every test of
    every profile (none scrolled away), with the profile it ran on, and the totals."""

    STYLE: ClassVar[dict[str, str]] = {"passed": "green", "failed": "bold red",
                                       "skipped": "dim", "error": "bold red"}

    def __init__(self, console: Console) -> None:
        self.console = console
        self.rows: list[tuple[str, str, str]] = []  # (profile, test, outcome)
        self.live = Live(self._render(), console=console, refresh_per_second=4,
                         vertical_overflow="visible")

    def _render(self) -> Table:
        table = Table(show_header=True, box=None)
        for column in ("result", "profile", "test"):
            table.add_column(column)
        for profile, name, outcome in self.rows:
            table.add_row(Text(outcome, style=self.STYLE.get(outcome, "")), profile, name)
        table.add_row("", "", Text(self.totals(), style="bold"))
        return table

    def totals(self) -> str:
        counts = {o: sum(1 for *_, x in self.rows if x == o) for o in self.STYLE}
        return f"{len(self.rows)} tests  " + "  ".join(
            f"{k}: {v}" for k, v in counts.items() if v)

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.live.start()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" or (report.when == "setup" and not report.passed):
            outcome = report.outcome if report.when == "call" else (
                "skipped" if report.skipped else "error")
            self.rows.append((*split_test_id(report.nodeid), outcome))
            self.live.update(self._render())

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.live.update(self._render())
        self.live.stop()


def split_test_id(nodeid: str) -> tuple[str, str]:
    """("profile", "test") from "path::test_name[profile]"."""
    name = nodeid.split("::", 1)[-1]
    if name.endswith("]") and "[" in name:
        base, _, param = name[:-1].partition("[")
        return param, base
    return "", name


def run_suite(name: str, run_dir: Path, console: Console, *, bench: Path | None,
              profile: str | None, profiles_dir: Path | None = None,
              select: str | None = None, operator: str | None = None,
              medium: str = "card") -> int:
    """Run the installed suite with rig's own pytest settings (not the current folder's)."""
    with ExitStack() as stack:
        suite = stack.enter_context(as_file(files(suite_package(name))))
        ini = stack.enter_context(as_file(files("rig.suites") / "suite.ini"))
        args = [str(suite), "-c", str(ini), "--rootdir", str(suite.parent),
                "-q", "-p", "no:cacheprovider", "--no-header",
                "-W", "ignore::pytest.PytestAssertRewriteWarning",  # rig is imported already
                "--tb=line", f"--junitxml={run_dir / 'junit.xml'}",
                f"--alluredir={run_dir / 'allure-results'}", f"--cert-dir={run_dir}"]
        if bench:
            args += ["--bench", str(bench.resolve())]
        if profile:
            args += ["--meter-profile", profile]
        if profiles_dir:
            args += ["--profiles-dir", str(profiles_dir.resolve())]
        if select:
            args += ["-k", select]
        if operator:
            args += ["--operator", operator]
        if medium != "card":
            args += ["--medium", medium]
        return int(pytest.main(args, plugins=[_LiveSuite(console)]))
