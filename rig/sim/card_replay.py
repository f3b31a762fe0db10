"""Replaying a saved APDU trace (``rig card replay``): a golden session checked against a
card or a meter.

Against a **card**: every recorded command, writer's and meter's in their order, is sent to a
blank virtual card of the trace's format and each response compared with the recorded one.
Against a **meter**: the recorded card answers the emulated meter's card reader, session by
session, and each command the meter sends is compared with the one recorded.

Exchanges recorded redacted (keys, cryptograms) are never guessed: they are counted as
"skipped (secret)". A card may offer two optional replay hooks (docs/card-formats.md):
``replay_secret(header, status_word)`` puts it in the state a skipped exchange left it in,
and ``volatile_response(command)`` names responses random by design, compared by status word.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rig.card.apdu import CardRemovedError
from rig.card.keys import MasterKey
from rig.card.trace import SavedTrace, TraceEntry
from rig.card_formats.interface import MasterKeys, VirtualCardApp
from rig.card_formats.registry import card_format
from rig.profile import MeterProfile
from rig.sim.prepaid import PrepaidEngine

METER = "meter"  # the terminal name the emulated meter's card slot records under


def _sw(response: bytes) -> str:
    return response[-2:].hex().upper() if len(response) >= 2 else "none"


@dataclass(frozen=True)
class Difference:
    """One exchange that did not replay as recorded."""

    step: int  # 1-based, in the trace
    terminal: str
    name: str
    recorded: bytes  # the recorded response (card) or command (meter)
    replayed: bytes
    what: str  # "response" or "command"

    def to_text(self) -> str:
        if self.what == "response":
            detail = (f"recorded SW {_sw(self.recorded)}, replayed SW {_sw(self.replayed)}"
                      + ("" if self.recorded[-2:] != self.replayed[-2:]
                         or self.recorded == self.replayed else " (data differs)"))
        else:
            detail = (f"recorded {self.recorded.hex(' ').upper() or 'nothing'}, meter sent "
                      f"{self.replayed.hex(' ').upper() or 'nothing'}")
        return f"step {self.step} [{self.terminal}] {self.name}: {self.what} differs: {detail}"


@dataclass
class ReplayReport:
    against: str
    card_format: str
    exchanges: int = 0
    matched: int = 0
    skipped_secret: int = 0
    differences: list[Difference] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.differences

    def to_text(self) -> str:
        lines = [d.to_text() for d in self.differences]
        lines.append(f"replayed {self.exchanges} exchanges of a {self.card_format} trace "
                     f"against the {self.against}: {self.matched} as recorded, "
                     f"{len(self.differences)} differ, {self.skipped_secret} skipped (secret)")
        return "\n".join(lines)


def replay_against_card(trace: SavedTrace, card: VirtualCardApp | None = None) -> ReplayReport:
    """Send the trace's commands to ``card`` (default: a blank card of the trace's format);
    a card moving to another terminal is powered anew, as it is when carried."""
    fmt = card_format(trace.card_format, where="APDU trace card_format")
    card = card if card is not None else fmt.blank_card(trace.options)
    report = ReplayReport("card", fmt.name)
    secret_hook = getattr(card, "replay_secret", None)
    volatile = getattr(card, "volatile_response", None)
    terminal: str | None = None
    for step, entry in enumerate(trace.entries, 1):
        if entry.terminal != terminal:
            card.reset()
            terminal = entry.terminal
        report.exchanges += 1
        if entry.redacted:
            report.skipped_secret += 1
            if secret_hook is not None:
                secret_hook(entry.command[:5], int.from_bytes(entry.response[-2:], "big"))
            continue
        got = card.process(entry.command)
        same = got == entry.response or (
            volatile is not None and volatile(entry.command)
            and got[-2:] == entry.response[-2:] and len(got) == len(entry.response))
        if same:
            report.matched += 1
        else:
            report.differences.append(Difference(step, entry.terminal, entry.name,
                                                 entry.response, got, "response"))
    return report


class _RecordedCard:
    """The card of one recorded meter session: answers the meter with the recorded
    responses, in order, and notes every command that differs from the recorded one."""

    name = METER

    def __init__(self, session: list[tuple[int, TraceEntry]], report: ReplayReport) -> None:
        self._session, self._report = session, report
        self._next = 0

    def transmit(self, apdu: bytes) -> bytes:
        report = self._report
        if self._next >= len(self._session):
            step = self._session[-1][0] if self._session else 0
            report.differences.append(Difference(step, METER, "after the recorded session",
                                                 b"", bytes(apdu), "command"))
            raise CardRemovedError("the recorded session ends here")
        step, entry = self._session[self._next]
        self._next += 1
        report.exchanges += 1
        if entry.command_redacted:  # the meter's secret (a cryptogram): never compared
            report.skipped_secret += 1
        elif bytes(apdu) == entry.command:
            report.matched += 1
        else:
            report.differences.append(Difference(step, METER, entry.name, entry.command,
                                                 bytes(apdu), "command"))
        return entry.response

    def finish(self) -> None:
        """Recorded commands the meter never sent are differences too."""
        for step, entry in self._session[self._next:]:
            self._report.exchanges += 1
            self._report.differences.append(Difference(step, METER, entry.name,
                                                       entry.command, b"", "command"))


def meter_sessions(trace: SavedTrace) -> list[list[tuple[int, TraceEntry]]]:
    """The trace's meter insertions: runs of consecutive meter-slot exchanges."""
    sessions: list[list[tuple[int, TraceEntry]]] = []
    previous = ""
    for step, entry in enumerate(trace.entries, 1):
        if entry.terminal == METER:
            if previous != METER:
                sessions.append([])
            sessions[-1].append((step, entry))
        previous = entry.terminal
    return sessions


def replay_against_meter(trace: SavedTrace, profile: MeterProfile, master_key: MasterKey,
                         *, readback_master: MasterKey | None = None,
                         engine: Any = None, at: datetime | None = None) -> ReplayReport:
    """Insert each recorded meter session into a meter of ``profile`` (its card format's
    reader around ``engine``, default a new prepaid engine) and compare what it sends.
    Commands that carry the meter's registers (its readback) replay as recorded only from
    a meter in the recorded state."""
    fmt = card_format(profile.card.format,
                      where=f"meter profile {profile.name}: [card] format")
    if fmt.name != trace.card_format:
        raise ValueError(f"the trace is of card format {trace.card_format!r}, the meter of "
                         f"profile {profile.name} reads {fmt.name!r}")
    wallet = engine if engine is not None else PrepaidEngine(profile=profile)
    from rig.sim.meter_firmware import commissioned_esam  # the meter's ESAM, if it has one

    reader = fmt.meter_reader(wallet, profile.protocol.address,
                              MasterKeys(master_key, readback_master,
                                         commissioned_esam(profile, master_key)),
                              key_revision=profile.card.key_revision)
    report = ReplayReport("meter", fmt.name)
    for session in meter_sessions(trace):
        card = _RecordedCard(session, report)
        reader.insert(card, at or datetime.now(UTC))
        card.finish()
    return report
