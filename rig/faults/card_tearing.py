"""Card tearing: the card pulled before, inside or just after any exchange of a session, on
any card format (through the format interface: its writer, its meter reader, its card).

Two sessions move credit: the vending station's purchase write and the meter's apply-and-
readback. Each tear point is one case; after the tear the world recovers the way people do
(the billing centre rewrites a vend it was not told was written, the customer inserts the
card again) and the case compares the credit sold with the credit the meter applied. A write
command (ISO UPDATE BINARY, or what the card's ``writes_memory(apdu)`` names) is also torn
after each proper prefix of its data; the meter's exchanges go through the card's own meter
slot where it has one (a memory card's chip bus, one byte a write: every byte position is an
exchange boundary). Shared by tests/card/test_tearing.py, tests/faults and bench/faults.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from rig.card.apdu import INS_UPDATE_BINARY, CardRemovedError
from rig.card_formats.interface import VirtualCardApp
from rig.card_formats.registry import DEFAULT
from rig.card_formats.tearing import C1, C2, C3, TearingFigures
from rig.errors import CardError
from rig.faults.card_world import NOW, World, make_world

TearMode = str | int  # "before", "after" or the number of UPDATE BINARY data bytes written


class TearingTransport:
    """Pulls the card at exchange ``cut`` (0-based). ``mode``: "before" (the card never sees
    the command), "after" (the card executes it, the response is lost) or an int n (a write
    whose first n data bytes reach the memory). ``send``: how a command reaches the card
    (default its ``process``; a meter slot's ``transmit``). The card is held privately, so a
    meter reader that follows a slot to its card's own bus still goes through this one."""

    def __init__(self, app: VirtualCardApp, cut: int, mode: TearMode, *,
                 send: Callable[[bytes], bytes] | None = None) -> None:
        self._app, self.cut, self.mode = app, cut, mode
        self._send = send or app.process
        self.count = 0
        self.torn = False

    def transmit(self, apdu: bytes) -> bytes:
        if self.torn:
            raise CardRemovedError("card already removed")
        index, self.count = self.count, self.count + 1
        if index < self.cut:
            return self._send(apdu)
        self.torn = True
        if self.mode == "after":
            self._send(apdu)
        elif isinstance(self.mode, int):
            n = self.mode
            self._send(apdu[:4] + bytes([n]) + apdu[5:5 + n])
        self._app.reset()  # power lost: selection and security state gone
        raise CardRemovedError(f"card pulled at exchange {index}")


class CountingTransport:
    """Records every command of a complete session (the tear points are taken from it)."""

    def __init__(self, send: Callable[[bytes], bytes]) -> None:
        self._send = send
        self.apdus: list[bytes] = []

    def transmit(self, apdu: bytes) -> bytes:
        self.apdus.append(apdu)
        return self._send(apdu)


def writes_memory(card: VirtualCardApp | None, apdu: bytes) -> bool:
    """Is ``apdu`` a write whose data reaches the card's memory byte after byte (so a pulled
    card keeps a prefix)? The card says (``writes_memory``), else ISO UPDATE BINARY."""
    hook = getattr(card, "writes_memory", None)
    if hook is not None:
        return bool(hook(apdu))
    return len(apdu) > 5 and apdu[1] == INS_UPDATE_BINARY


def tear_points(apdus: list[bytes],
                card: VirtualCardApp | None = None) -> Iterator[tuple[int, TearMode]]:
    """Every exchange before/after, and every proper prefix of every write."""
    for k, apdu in enumerate(apdus):
        yield k, "before"
        yield k, "after"
        if writes_memory(card, apdu):
            for n in range(1, apdu[4]):
                yield k, n


def prepared(card_format_name: str = DEFAULT) -> World:
    """Vend 1 applied and read back; vend 2 bought (not yet written)."""
    w = make_world(card_format_name=card_format_name)
    w.station.write_vend(w.slot(), w.vend(1, C1))
    applied = w.terminal.insert(w.meter_slot(), NOW).applied_sequence
    if applied != 1:
        raise CardError(f"card world not prepared: vend 1 not applied ({applied})")
    return w


def station_write_apdus(card_format_name: str = DEFAULT) -> list[bytes]:
    w = prepared(card_format_name)
    w.card.reset()
    counter = CountingTransport(w.card.process)
    w.station.write_vend(counter, w.vend(2, C2, tariff_version=2))
    return counter.apdus


def meter_session_apdus(card_format_name: str = DEFAULT) -> list[bytes]:
    w = prepared(card_format_name)
    w.station.write_vend(w.slot(), w.vend(2, C2))
    counter = CountingTransport(w.meter_slot().transmit)
    w.terminal.insert(counter, NOW)
    return counter.apdus


@dataclass(frozen=True)
class Books:
    """Credit units sold by the billing centre and applied by the meter after recovery."""

    vended: int
    applied: int

    @property
    def lost(self) -> int:
        return max(self.vended - self.applied, 0)

    @property
    def duplicated(self) -> int:
        return max(self.applied - self.vended, 0)


def applied_units(w: World) -> int:
    return w.engine.units(w.engine.cumulative_purchase)


def station_tear_case(cut: int, mode: TearMode, *, meter_first: bool,
                      card_format_name: str = DEFAULT) -> Books:
    """Tear the station's write of vend 2; optionally the customer tries the torn card in
    the meter; the billing centre rewrites vend 2 unless told it was written; insert."""
    w = prepared(card_format_name)
    w.card.reset()
    vend = w.vend(2, C2, tariff_version=2)
    with contextlib.suppress(CardError):
        w.station.write_vend(TearingTransport(w.card, cut, mode), vend)
    if meter_first:
        w.terminal.insert(w.meter_slot(), NOW)
    if vend.vend_id not in w.ledger.written:
        w.station.write_vend(w.slot(), vend)
    w.terminal.insert(w.meter_slot(), NOW)
    return Books(C1 + C2, applied_units(w))


def meter_tear_case(cut: int, mode: TearMode, card_format_name: str = DEFAULT) -> Books:
    """Tear the meter's session for vend 2, insert again, then buy and apply vend 3."""
    w = prepared(card_format_name)
    w.station.write_vend(w.slot(), w.vend(2, C2))
    slot = w.meter_slot()
    w.terminal.insert(TearingTransport(w.card, cut, mode, send=slot.transmit), NOW)
    w.terminal.insert(w.meter_slot(), NOW)
    w.station.write_vend(w.slot(), w.vend(3, C3))
    w.terminal.insert(w.meter_slot(), NOW)
    return Books(C1 + C2 + C3, applied_units(w))


def count_case(figures: TearingFigures, case: Books | CardError) -> None:
    """Count one case: a CardError is a recovery that failed (an error a person could not
    get past), else the books say whether credit was lost or applied twice."""
    if isinstance(case, CardError):
        figures.count(lost=False, duplicated=False, unrecovered=True)
    else:
        figures.count(lost=case.lost > 0, duplicated=case.duplicated > 0, unrecovered=False)


def _run(case: Callable[..., Books], *args: Any, **kwargs: Any) -> Books | CardError:
    try:
        return case(*args, **kwargs)
    except CardError as e:
        return e


def run_tearing_campaign(stride: int = 1,
                         card_format_name: str = DEFAULT) -> dict[str, TearingFigures]:
    """Every tear point (every `stride`-th) of both sessions on a card of ``card_format_name``:
    figures per session."""
    station, meter = TearingFigures(), TearingFigures()
    card = prepared(card_format_name).card
    for cut, mode in list(tear_points(station_write_apdus(card_format_name), card))[::stride]:
        for meter_first in (False, True):
            count_case(station, _run(station_tear_case, cut, mode, meter_first=meter_first,
                             card_format_name=card_format_name))
    for cut, mode in list(tear_points(meter_session_apdus(card_format_name), card))[::stride]:
        count_case(meter, _run(meter_tear_case, cut, mode, card_format_name))
    return {"purchase_write": station, "meter_session": meter}
