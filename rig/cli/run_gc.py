"""Garbage collection in a `rig run` process: not over its start-up, not at its exit.

Python's cyclic collector walks the objects that survived earlier collections again and
again. `rig run` builds about a thousand modules' worth of objects as it starts (classes,
functions, SQLAlchemy mappers, pydantic schemas) that live as long as the process, and the
collector walked them while they were being built (two full and some thirty middle
collections) and once more when the interpreter ended: 0.3–0.7 s of a run's CPU measured
(docs/throughput.md, "rig run's fixed overhead"), for almost no garbage — importing makes few
reference cycles.

So the collector is paused while the run's modules are imported (`start_up`, around the
import statements only, so no path leaves it paused), then everything alive is frozen (moved
to the permanent generation, which collections skip) and the collector resumes for the run
itself: a long run on a real bench still collects what it makes. At exit everything is
frozen again, so the interpreter's last collection has nothing to walk; the files, ports and
sessions are closed by then (the run closes each explicitly) and the operating system takes
the memory back with the process.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
from collections.abc import Iterator

_at_exit: list[bool] = []


@contextlib.contextmanager
def start_up() -> Iterator[None]:
    """No collections inside; what is alive after it is frozen; none at the process's exit.
    A collector its owner switched off stays off."""
    if not _at_exit:
        atexit.register(gc.freeze)
        _at_exit.append(True)
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_on:
            gc.enable()
