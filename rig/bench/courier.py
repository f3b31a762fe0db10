"""Card couriers: whoever carries the card between the card writer and the meter.

On the emulated bench that is the bench's control channel; on a real bench it is an operator
(prompted, with a timeout) or a card actuator driven by a command.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from rig.bench.actuator import run_actuator
from rig.bench.control import ControlClient
from rig.bench.operator import OperatorConsole

CardPlace = Literal["writer", "meter", "hand"]


@dataclass(frozen=True)
class Delivery:
    """Where the card went and, for a meter insertion, what the meter reported."""

    place: CardPlace
    meter_message: str = ""
    accepted: bool = True
    applied_sequence: int | None = None


class CardCourier(Protocol):
    def move(self, to: CardPlace) -> Delivery: ...


class EmulatedCourier:
    """Moves the virtual card through the emulated bench's control channel."""

    def __init__(self, control: ControlClient) -> None:
        self._control = control

    def move(self, to: CardPlace) -> Delivery:
        reply = self._control.call("move_card", to=to)
        meter = reply.get("meter") or {}
        return Delivery(
            place=to,
            meter_message=str(meter.get("message", "")),
            accepted=bool(meter.get("accepted", True)),
            applied_sequence=meter.get("applied_sequence"),
        )


class PromptCourier:
    """Asks the operator to move the card and waits for Enter (with a timeout).

    Without a terminal (CI) the first move fails with a clear error instead of hanging.
    """

    def __init__(self, timeout_s: float = 120.0, console: OperatorConsole | None = None) -> None:
        self._console = console or OperatorConsole(timeout_s)

    def move(self, to: CardPlace) -> Delivery:
        where = {"writer": "into the card writer", "meter": "into the meter",
                 "hand": "out of the reader"}[to]
        self._console.confirm(f"move the card {where}")
        message = ""
        if to == "meter":
            message = self._console.ask("read the meter display", "What does the meter display?")
        return Delivery(place=to, meter_message=message)


class CommandCourier:
    """Drives a card actuator: runs `command PLACE` and fails on a non-zero exit."""

    def __init__(self, command: str, timeout_s: float = 60.0) -> None:
        self._command = command
        self._timeout = timeout_s

    def move(self, to: CardPlace) -> Delivery:
        return Delivery(place=to, meter_message=run_actuator("card actuator", self._command,
                                                             to, self._timeout))
