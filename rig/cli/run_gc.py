"""Garbage collection in a `rig run` process: not over its start-up, not at its exit.

Python's cyclic collector walks the objects that survived earlier collections again and
again. `rig run` builds about a thousand modules' worth of objects as it starts (classes,
functions, SQLAlchemy mappers, pydantic schemas) that live as long as the process, and the
collector walked them while they were being built (two full and some thirty middle
collections) and once more when the interpreter ended: 0.3–0.7 s of a run's CPU measured
(docs/throughput.md), for almost no garbage — importing makes few reference cycles.

So the collector is paused while the run's modules are imported, then everything alive is
frozen (moved to the permanent generation, which collections skip) and the collector resumes
for the run itself: a long run on a real bench still collects what it makes. At exit
everything is frozen again, so the interpreter's last collection has nothing to walk; the
files, ports and sessions are closed by then (the run closes each explicitly) and the
operating system takes the memory back with the process.
"""

from __future__ import annotations

import atexit
import gc

_paused = False


def pause_for_start_up() -> None:
    """No collections until `resume_for_the_run`; none at the process's exit."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True
    atexit.register(gc.freeze)


def resume_for_the_run() -> None:
    """Freeze what start-up built, and collect again (if `pause_for_start_up` paused it)."""
    global _paused
    gc.freeze()
    if _paused:
        gc.enable()
        _paused = False
