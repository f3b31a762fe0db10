"""`rig report RUN_DIR`: render a run's Allure report and serve it over HTTP.

An Allure report is a single-page app that loads its data with fetch(): opened as a file it
only spins, so rig serves the rendered folder on 127.0.0.1 (as `allure open` does) or prints
the exact command that serves it. Allure 3 (npm package `allure`) is found on PATH or in
rig's own cache folder, where `rig report --install` puts it: never in the repository or the
current folder, so no package.json or package-lock.json lands in a checkout.
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ALLURE_PACKAGE = "allure@3"


def allure_home() -> Path:
    """Where rig installs Allure: $RIG_ALLURE_HOME, else $XDG_CACHE_HOME/rig/allure, else
    ~/.cache/rig/allure."""
    if os.environ.get("RIG_ALLURE_HOME"):
        return Path(os.environ["RIG_ALLURE_HOME"])
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "rig" / "allure"


def install_command(home: Path | None = None) -> list[str]:
    return ["npm", "install", "--prefix", str(home or allure_home()), "--no-audit",
            "--no-fund", ALLURE_PACKAGE]


def find_allure() -> Path | None:
    """Allure on PATH, else the one in rig's cache folder."""
    on_path = shutil.which("allure")
    if on_path:
        return Path(on_path)
    cached = allure_home() / "node_modules" / ".bin" / "allure"
    return cached if cached.is_file() else None


def install_allure() -> Path:
    """npm install Allure 3 into the cache folder (npm writes its package.json there)."""
    home = allure_home()
    home.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(install_command(home), cwd=home, check=False)
    tool = home / "node_modules" / ".bin" / "allure"
    if done.returncode != 0 or not tool.is_file():
        raise RuntimeError(f"`{shlex.join(install_command(home))}` failed "
                           f"(exit code {done.returncode})")
    return tool


def results_dir(run_dir: Path) -> Path:
    return run_dir / "allure-results" if (run_dir / "allure-results").is_dir() else run_dir


def generate(tool: Path, results: Path, out: Path) -> None:
    """Render `results` into `out` (run in the run folder, so nothing is written elsewhere)."""
    done = subprocess.run([str(tool), "generate", str(results.resolve()), "-o",
                           str(out.resolve())], cwd=out.parent, check=False,
                          stdout=sys.stderr)
    if done.returncode != 0 or not (out / "index.html").is_file():
        raise RuntimeError(f"allure generate failed with exit code {done.returncode}")


def serve_command(report: Path, port: int) -> str:
    """The command that serves a rendered report, for a person to run later."""
    return shlex.join([sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
                       "--directory", str(report.resolve()), str(port)])


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def report_server(report: Path, port: int = 0) -> ThreadingHTTPServer:
    """An HTTP server for the rendered report on 127.0.0.1 (port 0: any free one)."""
    handler = functools.partial(_QuietHandler, directory=str(report.resolve()))
    return ThreadingHTTPServer(("127.0.0.1", port), handler)


def serve_until_stopped(server: ThreadingHTTPServer, stop: threading.Event) -> None:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
