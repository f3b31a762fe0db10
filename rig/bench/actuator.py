"""Run a bench actuator command (card actuator, keypad actuator): its output, or one error."""

from __future__ import annotations

import subprocess

from rig.errors import RigError


def run_actuator(what: str, command: str, argument: str, timeout_s: float) -> str:
    """Run `command argument`; its stdout (stripped), or RigError naming `what` and why."""
    try:
        done = subprocess.run([command, argument], capture_output=True, text=True,
                              timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RigError(f"{what} {command!r} {argument}: {e}") from e
    if done.returncode != 0:
        raise RigError(f"{what} {command!r} {argument} exited {done.returncode}: "
                       f"{done.stderr.strip()}")
    return done.stdout.strip()
