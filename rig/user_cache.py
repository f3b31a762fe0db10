"""Where rig keeps what it can make again: $RIG_CACHE_DIR, else rig's folder in the user's
cache. A module of its own so that finding the folder imports nothing heavy."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "RIG_CACHE_DIR"


def cache_dir() -> Path:
    """$RIG_CACHE_DIR, else rig's folder in the user's cache ($XDG_CACHE_HOME or ~/.cache)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rig"
