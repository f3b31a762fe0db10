"""What leaving a bench did, read back from the instruments, for the person at the bench.

A bench is left by many paths (the end of a run, a failed check, an instrument error, Ctrl-C,
SIGTERM). On every one of them the person who walks up to it must know, without reading code,
that the load is off, the card powered down and the ports closed, and what the instruments
read last. This is that statement: each line says what was done and what was read back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

NOISE_W = Decimal(1)  # below this a reading with the relay open is the load's zero offset


@dataclass
class SafeStateReport:
    load_off_confirmed: bool = False  # the load acknowledged the input-off command
    load_reads_on: bool | None = None  # the input state read back after it (None: unreadable)
    load_power_w: Decimal | None = None  # power measured after input off
    load_problem: str | None = None  # why the read-back failed
    relay_open: bool | None = None  # the meter's relay as last read (None: unreadable)
    card_session_open: bool = False  # a card session was still powered when the bench closed
    closed: list[str] = field(default_factory=list)  # ports and sessions, in closing order

    @property
    def safe(self) -> bool:
        return (self.load_off_confirmed and self.load_reads_on is False
                and not self.card_session_open)

    def lines(self) -> list[str]:
        load = "load input off" if self.load_off_confirmed else \
            "load input off NOT confirmed by the load"
        if self.load_reads_on is not None:
            load += f" (read back: {'ON' if self.load_reads_on else 'off'}"
            if self.load_power_w is not None:
                load += f", {watts(self.load_power_w, relay_open=True)}"
            load += ")"
        elif self.load_problem:
            load += f" (read back failed: {self.load_problem})"
        out = [load, "card powered down" if not self.card_session_open else
               "card session still open"]
        if self.relay_open is not None:
            out.append(f"meter relay {'open' if self.relay_open else 'closed'}")
        out += self.closed
        return out

    def summary(self) -> str:
        head = "safe" if self.safe else "NOT SAFE — check the bench"
        return f"{head}: " + "; ".join(self.lines())


def watts(power: Decimal, *, relay_open: bool) -> str:
    """A power reading for a person: with the relay open nothing can flow, so a reading within
    the load's zero offset (e.g. -0.042 W) is shown as 0.000 W; any other reading keeps its
    value and sign (a real negative reading under load means something)."""
    if relay_open and abs(power) < NOISE_W:
        power = Decimal("0.000")
    return f"{power:.3f} W"
