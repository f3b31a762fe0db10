"""The `rig` command (typer + rich)."""

from __future__ import annotations

import sys

from rich.console import Console

PIPE_WIDTH = 200  # columns for output that is not a terminal: whole rows for grep and scripts


def table_console() -> Console:
    """A console for tables: the terminal's width, or PIPE_WIDTH when stdout is a pipe or
    file (rich would otherwise cut every row at 80 columns)."""
    return Console() if sys.stdout.isatty() else Console(width=PIPE_WIDTH)
