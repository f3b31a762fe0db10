"""Optional parts of rig and the extra that installs each, so a missing one is one line.

The core install is the bench and the billing centre on SQLite. The REST API, the console and
served centres need `rig[server]`, PostgreSQL needs `rig[postgres]`, plots and charts need
`rig[plots]`, the ESC/POS receipt printer (and the emulated printer's paper pictures) needs
`rig[printer]`; `./setup.sh` installs them all.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from rig.errors import RigError


class MissingExtra(RigError):
    """An optional dependency is not installed; the message names the extra to install."""


def require(extra: str, module: str, what: str) -> ModuleType:
    """Import `module`, or raise MissingExtra naming the extra that provides it."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        missing = e.name or module
        raise MissingExtra(f"{what} needs rig[{extra}] ({missing} is not installed): "
                           f"pip install 'rig[{extra}]'") from None


def optional_module(module: str) -> ModuleType | None:
    """`module` if it is installed, else None (callers `require` it before use)."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError:
        return None
