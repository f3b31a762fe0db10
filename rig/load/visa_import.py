"""pyvisa imported without numpy, which rig's load driver never needs.

pyvisa imports numpy whenever it is installed (rig's `plots` extra brings it): about 80
modules and 0.05–0.1 s of every `rig run`, only so that binary blocks can be read into numpy
arrays. The load driver speaks text SCPI and never asks for that, and pyvisa supports numpy's
absence (its pure-Python routines). So the first import of pyvisa is done with numpy marked
missing, and the mark is removed at once: numpy stays importable for anything else, and a
process that already has numpy (or pyvisa) is left as it is. Only while this is the only
thread: another thread importing numpy at that instant would be told it is missing.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def numpy_hidden() -> Iterator[None]:
    """Imports inside see numpy as not installed (if nothing has imported it or pyvisa)."""
    hide = ("numpy" not in sys.modules and "pyvisa" not in sys.modules
            and threading.active_count() == 1)
    if hide:
        sys.modules["numpy"] = None  # type: ignore[assignment]  # `import numpy` → ImportError
    try:
        yield
    finally:
        if hide and "numpy" in sys.modules and sys.modules["numpy"] is None:
            del sys.modules["numpy"]
