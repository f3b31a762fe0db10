"""Who, what, with which software: the facts a test record carries besides its results.

An auditor accepts a record only if it says which rig built it (version and, from a checkout,
the git revision), who ran it, against which billing centre (never its credentials) and
which profile file judged the meter (its SHA-256, so a changed file is a different test).
"""

from __future__ import annotations

import getpass
import hashlib
import os
import subprocess
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import rig

REPO = Path(rig.__file__).resolve().parents[1]


def file_sha256(path: Path | None) -> str:
    """SHA-256 of a file's bytes, hex; "" when there is no file (a profile built in code)."""
    if path is None or not Path(path).is_file():
        return ""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def rig_software() -> dict[str, object]:
    """rig's version, and the git revision (and whether the tree had local changes) when it
    runs from a checkout; an installed package has no revision."""
    info: dict[str, object] = {"version": rig.__version__, "git_revision": None,
                               "git_dirty": None}
    if not (REPO / ".git").exists():
        return info
    try:
        rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], check=True,
                             capture_output=True, text=True, timeout=10).stdout.strip()
        status = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain",
                                 "--untracked-files=no"], check=True, capture_output=True,
                                text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return info
    info["git_revision"] = rev or None
    info["git_dirty"] = bool(status.strip())
    return info


def operator_name(given: str | None = None, configured: str | None = None) -> str:
    """Who ran the test: as entered (option or $RIG_OPERATOR), else the bench config's
    operator, else the login name."""
    for name in (given, os.environ.get("RIG_OPERATOR"), configured):
        if name and name.strip():
            return name.strip()
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def billing_description(url: str | None) -> dict[str, str]:
    """The billing centre as a record may show it: its kind and URL with any user name,
    password and query (tokens, passwords) removed."""
    if not url:
        return {"kind": "none", "url": ""}
    parts = urlsplit(url)
    scheme = parts.scheme or "file"
    kind = "served" if scheme in ("http", "https") else scheme.split("+")[0]
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    clean = urlunsplit((parts.scheme, host, parts.path, "", ""))
    if scheme.startswith("sqlite") and not parts.netloc:
        clean = f"{parts.scheme}://{parts.path}" if parts.path else f"{parts.scheme}://"
    return {"kind": kind, "url": clean}
