"""python-escpos's printer database read once, not at every start.

On import, python-escpos parses its capabilities database (a 96 kB JSON file) with a pure-Python
YAML parser — about a quarter of a second of CPU — unless it finds a pickle of it in
``$ESCPOS_CAPABILITIES_PICKLE_DIR``. Unset, that is a new temporary folder in every process,
so every ``rig run`` and every test that prints paid it again. rig points it at its own cache
folder and writes the pickle there once, atomically (python-escpos writes it in place, where a
second process starting at the same moment could read half a file). A newer database file
(python-escpos upgraded) makes it again; a folder that cannot be written leaves python-escpos
to its own default. ``$ESCPOS_CAPABILITIES_PICKLE_DIR`` or ``$ESCPOS_CAPABILITIES_FILE`` set by
the user are left alone.
"""

from __future__ import annotations

import json
import os
import pickle
import platform
import tempfile
from importlib.resources import files
from pathlib import Path

from rig.user_cache import cache_dir

PICKLE_DIR_ENV = "ESCPOS_CAPABILITIES_PICKLE_DIR"
FILE_ENV = "ESCPOS_CAPABILITIES_FILE"


def pickle_path(folder: Path) -> Path:
    """Where python-escpos looks for its pickled database in ``folder``."""
    return folder / f"{platform.python_version()}.capabilities.pickle"


def use_cache() -> None:
    """Point python-escpos at rig's pickled copy of its database, made first if missing or
    older than the database. Call before importing ``escpos``."""
    if os.environ.get(PICKLE_DIR_ENV) or os.environ.get(FILE_ENV):
        return
    source = Path(str(files("escpos") / "capabilities.json"))
    folder = cache_dir() / "escpos"
    target = pickle_path(folder)
    try:
        if not target.is_file() or target.stat().st_mtime < source.stat().st_mtime:
            folder.mkdir(parents=True, exist_ok=True)
            database = json.loads(source.read_text(encoding="utf-8"))
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".capabilities-")
            try:
                with os.fdopen(fd, "wb") as out:
                    pickle.dump(database, out, protocol=2)  # as python-escpos writes it
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
    except OSError:
        return  # no writable cache: python-escpos parses the file itself, as before
    os.environ[PICKLE_DIR_ENV] = str(folder)
