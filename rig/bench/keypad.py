"""Keypads: whoever types an STS token on the meter and reads what its display says.

On the emulated bench that is the bench's control channel (`keypad` op); on a real bench an
operator (prompted, with a timeout) or a keypad actuator driven by a command.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from rig.bench.actuator import run_actuator
from rig.bench.control import ControlClient
from rig.bench.operator import OperatorConsole
from rig.sts.token import grouped


@dataclass(frozen=True)
class KeypadEntry:
    """What the meter showed after a token: its display text and, when the bench can tell,
    whether it accepted the token and the credit it added."""

    display: str
    accepted: bool | None = None
    credit: str | None = None


class Keypad(Protocol):
    def enter(self, token: str) -> KeypadEntry: ...


class EmulatedKeypad:
    """Types the token through the emulated bench's control channel."""

    def __init__(self, control: ControlClient) -> None:
        self._control = control

    def enter(self, token: str) -> KeypadEntry:
        reply = self._control.call("keypad", token=token)
        return KeypadEntry(display=str(reply["display"]), accepted=bool(reply["accepted"]),
                           credit=reply.get("credit"))


class PromptKeypad:
    """Asks the operator to type the token on the meter and to read its display back.

    Without a terminal (CI) the first token fails with a clear error instead of hanging.
    """

    def __init__(self, timeout_s: float = 120.0, console: OperatorConsole | None = None) -> None:
        self._console = console or OperatorConsole(timeout_s)

    def enter(self, token: str) -> KeypadEntry:
        shown = self._console.ask(f"type the token {grouped(token)} on the meter's keypad",
                                  "What does the meter display?")
        return KeypadEntry(display=shown)


class CommandKeypad:
    """Drives a keypad actuator: runs `command TOKEN`; its output is the display read back."""

    def __init__(self, command: str, timeout_s: float = 60.0) -> None:
        self._command = command
        self._timeout = timeout_s

    def enter(self, token: str) -> KeypadEntry:
        return KeypadEntry(display=run_actuator("keypad actuator", self._command, token,
                                                self._timeout))


def keypad_for(sim: ControlClient | None) -> Keypad:
    """The bench's keypad: the emulated bench's control channel, else the operator."""
    return EmulatedKeypad(sim) if sim is not None else PromptKeypad()
