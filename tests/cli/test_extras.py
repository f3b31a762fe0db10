"""A missing extra is one line naming it (the real core-only install runs in
.ci/installed-layout; here the extra's package is made unimportable in a child process)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

WITHOUT = """
import sys
for name in {modules!r}:
    sys.modules[name] = None  # import raises ModuleNotFoundError, as when not installed
from rig.cli.main import app
app({args!r})
"""


def run_without(modules: list[str], args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    code = WITHOUT.format(modules=modules, args=args)
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def test_serve_without_the_server_extra(tmp_path: Path) -> None:
    done = run_without(["fastapi"], ["billing", "serve", "--db",
                                     f"sqlite:///{tmp_path / 'b.sqlite'}"], tmp_path)
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "rig[server]" in line and "fastapi is not installed" in line


def test_postgres_without_the_postgres_extra(tmp_path: Path) -> None:
    done = run_without(["psycopg"], ["billing", "customers", "list", "--db",
                                     "postgresql+psycopg://rig:rig@127.0.0.1:1/none"], tmp_path)
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "rig[postgres]" in line
