"""Operator prompts for the manual steps of a real bench (move a card, press a meter key).

A prompt waits for an answer only as long as its timeout, and fails at once with a clear
error when nobody can answer (no terminal: CI, a service, a closed stdin) instead of hanging.
"""

from __future__ import annotations

import select
import sys
from typing import TextIO

from rig.errors import RigError


class OperatorConsole:
    """Asks the person at the bench through the terminal; every read has a timeout."""

    def __init__(self, timeout_s: float = 120.0, *, stdin: TextIO | None = None,
                 stdout: TextIO | None = None) -> None:
        self.timeout_s = timeout_s
        self._stdin = stdin
        self._stdout = stdout

    def _terminal(self, step: str) -> tuple[TextIO, TextIO]:
        stdin = self._stdin or sys.stdin
        stdout = self._stdout or sys.stdout
        try:
            attached = stdin is not None and not stdin.closed and stdin.isatty()
        except (AttributeError, OSError, ValueError):  # a replaced or detached stdin
            attached = False
        if not attached:
            raise RigError(f"operator prompt {step!r} needs a terminal; none is attached "
                           "(CI?): use an emulated bench or a card actuator")
        return stdin, stdout

    def ask(self, step: str, question: str) -> str:
        """Print `question` and return the operator's answer line (stripped)."""
        stdin, stdout = self._terminal(step)
        print(f">>> {question} ({self.timeout_s:g} s)", file=stdout, flush=True)
        ready, _, _ = select.select([stdin], [], [], self.timeout_s)
        if not ready:
            raise RigError(f"operator did not answer {step!r} within {self.timeout_s:g} s")
        line = stdin.readline()
        if not line:
            raise RigError(f"operator prompt {step!r}: the terminal closed (end of input)")
        return line.strip()

    def confirm(self, step: str) -> None:
        """Ask the operator to do `step` and press Enter when it is done."""
        self.ask(step, f"{step[0].upper()}{step[1:]}, then press Enter")

    def yes_no(self, step: str, question: str) -> bool:
        answer = self.ask(step, f"{question} [y/n]").lower()
        if answer not in ("y", "yes", "n", "no"):
            raise RigError(f"operator prompt {step!r}: answer y or n, got {answer!r}")
        return answer.startswith("y")
