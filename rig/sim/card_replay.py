"""Replaying a saved APDU trace (``rig card replay``): a golden session checked against a
card or a meter.

Against a **card**: every recorded command, writer's and meter's in their order, is sent to a
blank virtual card of the trace's format and each response compared with the recorded one.
Against a **meter**: the recorded card answers the emulated meter's card reader, session by
session, and each command the meter sends is compared with the one recorded.

Exchanges recorded redacted (keys, cryptograms, a memory card's PSC) are never taken from
the trace nor guessed. A card may offer optional replay hooks (docs/card-formats.md):
``replay_command(recorded, response, keys, meter_side=)`` makes a redacted exchange whole with
the replaying lab's own secret (SLE 4442: its PSC for the card's binding); otherwise the
exchange is counted as "skipped (secret)", and ``replay_secret(header, status_word)`` puts
the card in the state it left it in (RIGPP). ``volatile_response(command)`` names responses
random by design, compared by status word. Response bytes the trace cut are counted, not
compared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rig.card.apdu import CardRemovedError
from rig.card.keys import MasterKey
from rig.card.session import ApduTransport
from rig.card.trace import SavedTrace, TraceEntry
from rig.card_formats.interface import KeySource, MasterKeys, VirtualCardApp, meter_slot
from rig.card_formats.registry import card_format
from rig.errors import RigError
from rig.esam.link import ESAM_TERMINAL
from rig.profile import MeterProfile
from rig.sim.meter_firmware import commissioned_esam
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
    native: bool = False  # a chip-bus exchange: the response has no status word

    def to_text(self) -> str:
        if self.what == "response" and self.native:
            at = next((i for i, (a, b) in enumerate(zip(self.recorded, self.replayed,
                                                        strict=False)) if a != b),
                      min(len(self.recorded), len(self.replayed)))
            detail = (f"recorded {len(self.recorded)} bytes, replayed "
                      f"{len(self.replayed)}, first difference at byte {at}")
        elif self.what == "response":
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
    lab_secret: int = 0  # redacted exchanges replayed with the replaying lab's own secret
    bytes_not_compared: int = 0  # response bytes redacted in the trace
    esam_exchanges: int = 0  # the meter's dialogue with its own ESAM: shown, not replayed
    differences: list[Difference] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.differences

    def to_text(self) -> str:
        lines = [d.to_text() for d in self.differences]
        own = (f" ({self.lab_secret} with this lab's own secret in place of the redacted one)"
               if self.lab_secret else "")
        cut = (f"; {self.bytes_not_compared} response bytes redacted in the trace, not "
               "compared" if self.bytes_not_compared else "")
        lines.append(f"replayed {self.exchanges} exchanges of a {self.card_format} trace "
                     f"against the {self.against}: {self.matched} as recorded{own}, "
                     f"{len(self.differences)} differ, {self.skipped_secret} skipped (secret)"
                     f"{cut}" + (f"; {self.esam_exchanges} exchanges with the meter's ESAM "
                                 "not replayed (its own chip)" if self.esam_exchanges else ""))
        return "\n".join(lines)


def _as_recorded(entry: TraceEntry, got: bytes, volatile: Any) -> bool:
    """Does ``got`` answer as ``entry`` recorded? Redacted response bytes (the front of the
    response: a cut data field before its status word, or a chip's whole answer) are not
    compared, only their number; a volatile response (random by design) by status word and
    length only."""
    cut = entry.response_redacted
    if len(got) != cut + len(entry.response):
        return False
    if got[cut:] == entry.response:
        return True
    return bool(volatile is not None and volatile(entry.command)
                and got[-2:] == entry.response[-2:])


class _DrivenCard:
    """A card driven by a trace's commands, as a replay sends them: powered anew whenever it
    changes terminal, the meter's commands through its own meter slot where it has one (a
    memory card's chip bus), a redacted secret made whole with the lab's own (``keys``)."""

    def __init__(self, card: VirtualCardApp, keys: KeySource | None) -> None:
        self.card, self.keys = card, keys
        self.terminal: str | None = None
        self.bus: ApduTransport | None = None
        self._own = getattr(card, "replay_command", None) if keys is not None else None
        self._secret_hook = getattr(card, "replay_secret", None)

    def at(self, terminal: str) -> None:
        if terminal != self.terminal:
            self.card.reset()
            self.terminal = terminal
            self.bus = meter_slot(self.card) if terminal == METER else None

    def send(self, command: bytes) -> bytes:
        return self.bus.transmit(command) if self.bus is not None else self.card.process(command)

    def command(self, entry: TraceEntry) -> tuple[bytes | None, bool]:
        """What to send for ``entry`` (None: skipped as secret, the card's ``replay_secret``
        told of it) and whether it carries the lab's own secret."""
        if entry.command_redacted:
            whole = None if self._own is None else self._own(
                entry.command, entry.response, self.keys, meter_side=self.terminal == METER)
            if whole is None and self._secret_hook is not None:
                self._secret_hook(entry.command[:5], int.from_bytes(entry.response[-2:], "big"))
            return whole, whole is not None
        if entry.response_redacted and self._own is None:
            return None, False  # a card without the hook: as before, never guessed
        return entry.command, False


def replay_against_card(trace: SavedTrace, card: VirtualCardApp | None = None, *,
                        keys: KeySource | None = None) -> ReplayReport:
    """Send the trace's commands to ``card`` (default: a blank card of the trace's format);
    a card moving to another terminal is powered anew, as it is when carried, and the meter's
    exchanges go through the card's own meter slot where it has one (a memory card's chip
    bus). ``keys``: the replaying lab's key source, for a card that makes a redacted
    exchange whole with the lab's own secret (``replay_command``); never the trace's."""
    fmt = card_format(trace.card_format, where="APDU trace card_format")
    driven = _DrivenCard(card if card is not None else fmt.blank_card(trace.options), keys)
    report = ReplayReport("card", fmt.name)
    volatile = getattr(driven.card, "volatile_response", None)
    for step, entry in enumerate(trace.entries, 1):
        if entry.terminal == ESAM_TERMINAL:
            report.esam_exchanges += 1
            continue
        driven.at(entry.terminal)
        report.exchanges += 1
        command, own = driven.command(entry)
        if command is None:
            report.skipped_secret += 1
            continue
        report.lab_secret += own
        got = driven.send(command)
        report.bytes_not_compared += entry.response_redacted
        if _as_recorded(entry, got, volatile):
            report.matched += 1
        else:
            report.differences.append(Difference(step, entry.terminal, entry.name,
                                                 entry.response, got, "response",
                                                 native=driven.bus is not None))
    return report


class ReplayError(RigError):
    """The trace cannot be replayed this way (it lacks what the replay must send)."""


class _RecordedCard:
    """The card of one recorded meter session: answers the meter with the recorded
    responses, in order, and notes every command that differs from the recorded one."""

    name = METER

    def __init__(self, session: list[tuple[int, TraceEntry]], report: ReplayReport,
                 shadow: _DrivenCard | None = None) -> None:
        self._session, self._report = session, report
        self._shadow = shadow  # the card as the trace left it: answers what the trace cut
        self._next = 0

    def transmit(self, apdu: bytes) -> bytes:
        report = self._report
        if self._next >= len(self._session):
            step = self._session[-1][0] if self._session else 0
            report.differences.append(Difference(step, METER, "after the recorded session",
                                                 b"", bytes(apdu), "command"))
            raise CardRemovedError("the recorded session ends here")
        step, entry = self._session[self._next]
        live = self._shadow.send(bytes(apdu)) if self._shadow is not None else None
        if entry.response_redacted and len(entry.response) < 2 and live is None:
            raise ReplayError(f"step {step} [{METER}] {entry.name}: the trace keeps no answer "
                              "to give the meter (a secret, cut whole), and its card format "
                              "cannot stand in for it: this trace replays against a card only")
        self._next += 1
        report.exchanges += 1
        if entry.command_redacted:  # the meter's secret (a cryptogram): never compared
            report.skipped_secret += 1
        elif bytes(apdu) == entry.command:
            report.matched += 1
        else:
            report.differences.append(Difference(step, METER, entry.name, entry.command,
                                                 bytes(apdu), "command"))
        if entry.response_redacted and live is not None:
            report.bytes_not_compared += entry.response_redacted
            return live  # the card's own answer where the trace cut the recorded one
        return entry.response

    @property
    def used(self) -> int:
        """How many recorded exchanges the meter went through."""
        return self._next

    def finish(self) -> None:
        """Recorded commands the meter never sent are differences too."""
        for step, entry in self._session[self._next:]:
            self._report.exchanges += 1
            self._report.differences.append(Difference(step, METER, entry.name,
                                                       entry.command, b"", "command"))


def meter_sessions(trace: SavedTrace) -> list[list[tuple[int, TraceEntry]]]:
    """The trace's meter insertions: runs of consecutive meter-slot exchanges (the meter's
    ESAM dialogue between them is not the card's)."""
    sessions: list[list[tuple[int, TraceEntry]]] = []
    previous = ""
    for step, entry in enumerate(trace.entries, 1):
        if entry.terminal == ESAM_TERMINAL:
            continue
        if entry.terminal == METER:
            if previous != METER:
                sessions.append([])
            sessions[-1].append((step, entry))
        previous = entry.terminal
    return sessions


def replay_against_meter(trace: SavedTrace, profile: MeterProfile, master_key: MasterKey,
                         *, readback_master: MasterKey | None = None,
                         engine: Any = None, at: datetime | None = None,
                         card_keys: KeySource | None = None) -> ReplayReport:
    """Insert each recorded meter session into a meter of ``profile`` (its card format's
    reader around ``engine``, default a new prepaid engine) and compare what it sends.
    Commands that carry the meter's registers (its readback) replay as recorded only from
    a meter in the recorded state. Where the trace cut an answer whole (a memory card's
    security memory), a card of the trace's format that can replay the lab's own secrets
    (``replay_command``, with ``card_keys``: the replaying lab's station keys, default the
    meter's), driven by every recorded command so far, answers instead."""
    fmt = card_format(profile.card.format,
                      where=f"meter profile {profile.name}: [card] format")
    if fmt.name != trace.card_format:
        raise ValueError(f"the trace is of card format {trace.card_format!r}, the meter of "
                         f"profile {profile.name} reads {fmt.name!r}")
    wallet = engine if engine is not None else PrepaidEngine(profile=profile)
    keys = MasterKeys(master_key, readback_master, commissioned_esam(profile, master_key))
    reader = fmt.meter_reader(wallet, profile.protocol.address, keys,
                              key_revision=profile.card.key_revision)
    report = ReplayReport("meter", fmt.name)
    blank = fmt.blank_card(trace.options)
    shadow = (_DrivenCard(blank, card_keys or keys) if hasattr(blank, "replay_command")
              else None)
    sessions = meter_sessions(trace)
    first_steps = {session[0][0]: session for session in sessions}
    for step, entry in enumerate(trace.entries, 1):
        session = first_steps.get(step)
        if entry.terminal == ESAM_TERMINAL:
            report.esam_exchanges += 1
            continue
        if entry.terminal != METER and shadow is not None:
            shadow.at(entry.terminal)  # the writer's sessions shape the card the meter meets
            command, _ = shadow.command(entry)
            if command is not None:
                shadow.send(command)
        while session:  # a run of meter exchanges may hold several insertions in a row
            if shadow is not None:
                shadow.terminal = None  # a new insertion powers the card anew
                shadow.at(METER)
            card = _RecordedCard(session, report, shadow)
            reader.insert(card, at or datetime.now(UTC))
            rest = session[card.used:]
            # the meter left early: another insertion if the rest starts as this one did
            if not card.used or not rest or rest[0][1].command != session[0][1].command:
                card.finish()
                break
            session = rest
    return report
