"""Import matplotlib for the run plots in the background, while the bench waits.

Importing pyplot costs a second or more of CPU; a run or a suite first spends seconds waiting
on pcscd, the meter and the bench clock, so the import overlaps those waits instead of adding
to the first plot. A missing rig[plots] is reported where a plot is drawn, not here.
"""

from __future__ import annotations

import contextlib
import threading


def _import_pyplot() -> None:
    from rig.report import plot

    with contextlib.suppress(Exception):
        plot._pyplot()


def import_pyplot_in_background() -> None:
    """Start the import in a daemon thread (returns at once)."""
    threading.Thread(target=_import_pyplot, name="rig-import-pyplot", daemon=True).start()
