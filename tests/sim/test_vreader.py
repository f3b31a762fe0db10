"""rig's own virtual reader driver (native/pcsc-vreader) under a real pcscd, through pyscard.

These run where pcscd offers rig's readers ("rig vreader K 0K 00"): the system pcscd once
setup.sh has installed them, or a private one that proves the driver without touching the
shared service: `sudo native/pcsc-vreader/private-pcscd.sh` (runs this file). Elsewhere they
skip, saying so. The time a change takes to reach pcscd is measured in bench/suite.py; here
each change must be an event pcscd tells every client (its event counter moves) and the
state must be right after it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
from smartcard import scard as S

from rig.card import CardApplication, CardInfo, CardSession, CardType
from rig.card.apdu import CardRemovedError, select_aid
from rig.card.pcsc import PcscReader
from rig.sim.virtual_card import VirtualCard, VpcdLink
from rig.sim.vpcd import (
    VpcdSlot,
    claim_free_slot,
    reader_kind,
    reader_name,
    wait_until_reader_empty,
)


def _vreaders_offered() -> bool:
    try:
        if reader_kind() != "vreader":
            return False
        from rig.card.pcsc import list_readers

        return reader_name(0) in list_readers()
    except Exception:
        return False


pytestmark = pytest.mark.skipif(
    not _vreaders_offered(),
    reason="pcscd offers no rig vreader readers: run `sudo native/pcsc-vreader/private-pcscd.sh` "
           "or setup.sh")


@pytest.fixture
def slot() -> Iterator[VpcdSlot]:
    s = claim_free_slot(wait_s=60.0)
    yield s
    s.release()


@pytest.fixture
def ctx() -> Iterator[int]:
    rc, context = S.SCardEstablishContext(S.SCARD_SCOPE_USER)
    assert rc == S.SCARD_S_SUCCESS
    yield context
    S.SCardReleaseContext(context)


def _state(ctx: int, reader: str) -> int:
    rc, states = S.SCardGetStatusChange(ctx, 0, [(reader, S.SCARD_STATE_UNAWARE)])
    assert rc == S.SCARD_S_SUCCESS
    return int(states[0][1])


def _next_change(ctx: int, reader: str, known: int) -> int:
    """The reader's state after the next change pcscd announces (5 s at most)."""
    rc, states = S.SCardGetStatusChange(ctx, 5000, [(reader, known & ~S.SCARD_STATE_CHANGED)])
    assert rc == S.SCARD_S_SUCCESS, S.SCardGetErrorMessage(rc)
    return int(states[0][1])


def _counter(state: int) -> int:
    return state >> 16  # pcscd's per-reader event counter


def test_insert_and_remove_are_each_one_event(slot: VpcdSlot, ctx: int) -> None:
    link = VpcdLink(VirtualCard(CardApplication()), slot)
    assert wait_until_reader_empty(slot.reader_name)  # the slot's last card is gone
    before = _state(ctx, slot.reader_name)
    try:
        link.insert()
        inserted = _next_change(ctx, slot.reader_name, before)
        assert inserted & S.SCARD_STATE_PRESENT
        assert _counter(inserted) == _counter(before) + 1
        link.remove()
        removed = _next_change(ctx, slot.reader_name, inserted)
        assert removed & S.SCARD_STATE_EMPTY
        assert _counter(removed) == _counter(before) + 2
    finally:
        link.remove()


def test_a_removed_card_is_gone_to_pcsc_when_remove_returns(slot: VpcdSlot, ctx: int) -> None:
    """The bench's card courier relies on this: right after a move to the hand, a writer or
    relay asking PC/SC must find the reader empty, not pcscd's still-powered session."""
    link = VpcdLink(VirtualCard(CardApplication()), slot)
    try:
        for _ in range(20):
            link.insert()
            with PcscReader(slot.reader_name).wait_for_card(5) as conn:
                conn.transmit(select_aid().to_bytes())
                link.remove()
                assert _state(ctx, slot.reader_name) & S.SCARD_STATE_EMPTY
    finally:
        link.remove()


def test_apdus_round_trip(slot: VpcdSlot) -> None:
    link = VpcdLink(VirtualCard(CardApplication()), slot)
    info = CardInfo(CardType.USER, "00000000000000A1", "123456789012", 1, 7)
    with link, PcscReader(slot.reader_name).wait_for_card(5) as conn:
        assert conn.atr == link.card.atr
        session = CardSession(conn)
        session.select_application()
        session.write_info(info)
        assert session.read_info() == info
        assert {conn.transmit(select_aid().to_bytes()) for _ in range(20)} == {b"\x90\x00"}
    assert link.error is None


def test_card_put_back_at_once_is_still_seen_leaving(slot: VpcdSlot, ctx: int,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A card pulled and put back before pcscd looked is one removal and one insertion to
    the station (pcscd never sees an empty reader otherwise): its old session ends with
    "card removed", and the new one starts afresh."""
    first = VpcdLink(VirtualCard(CardApplication()), slot)
    second = VpcdLink(VirtualCard(CardApplication()), slot)
    reader = PcscReader(slot.reader_name)
    # put back without waiting for pcscd to report the reader empty
    monkeypatch.setattr("rig.sim.virtual_card.wait_until_reader_empty", lambda *_a, **_k: False)
    try:
        first.insert()
        with reader.wait_for_card(5) as old:
            old.transmit(select_aid().to_bytes())
            seen = _state(ctx, slot.reader_name)
            # the next card already waits at the reader's port (in its accept queue) when
            # the first leaves: the driver takes it in the moment it sees the first gone
            second.insert()
            first.remove()
            with pytest.raises(CardRemovedError, match=slot.reader_name):
                old.transmit(select_aid().to_bytes())
        state = seen
        while not (_counter(state) >= _counter(seen) + 2 and state & S.SCARD_STATE_PRESENT):
            state = _next_change(ctx, slot.reader_name, state)
        assert _counter(state) == _counter(seen) + 2  # the removal, then the insertion
        with reader.wait_for_card(5) as new:
            assert new.transmit(select_aid().to_bytes()) == b"\x90\x00"
    finally:
        first.remove()
        second.remove()


class _PulledDuringApdu(CardApplication):
    """A card that leaves the reader while it works on a SELECT of file 0102."""

    link: VpcdLink | None = None

    def process(self, apdu: bytes) -> bytes:
        if apdu.startswith(bytes.fromhex("00A4020C020102")) and self.link is not None:
            sock = self.link._sock  # the card's side of the contacts: it leaves mid-APDU
            assert sock is not None
            sock.shutdown(socket.SHUT_RDWR)
        return super().process(apdu)


def test_card_pulled_during_an_apdu_is_a_clean_card_removed(slot: VpcdSlot) -> None:
    app = _PulledDuringApdu()
    link = app.link = VpcdLink(VirtualCard(app), slot)
    reader = PcscReader(slot.reader_name)
    with link, reader.wait_for_card(5) as conn:
        conn.transmit(select_aid().to_bytes())
        with pytest.raises(CardRemovedError) as ei:
            conn.transmit(bytes.fromhex("00A4020C020102"))
        assert str(ei.value) == f"{slot.reader_name}: card removed during SELECT EF 0102"
    reader.wait_for_removal(5)


_DYING_CARD = """
import sys, time
from rig.card import CardApplication
from rig.sim.virtual_card import VirtualCard, VpcdLink
from rig.sim.vpcd import VpcdSlot

class Stuck(CardApplication):
    def process(self, apdu):
        if apdu.startswith(bytes.fromhex("00A4020C020102")):
            print("stuck", flush=True)
            time.sleep(600)
        return super().process(apdu)

VpcdLink(VirtualCard(Stuck()), VpcdSlot(int(sys.argv[1]))).insert()
print("inserted", flush=True)
time.sleep(600)
"""


def test_pcscd_survives_a_card_process_killed_mid_apdu(slot: VpcdSlot) -> None:
    reader = PcscReader(slot.reader_name)
    card = subprocess.Popen([sys.executable, "-c", _DYING_CARD, str(slot.index)],
                            stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        assert card.stdout is not None
        assert card.stdout.readline().strip() == "inserted"
        with reader.wait_for_card(5) as conn:
            conn.transmit(select_aid().to_bytes())
            outcome: list[BaseException] = []

            def stuck_apdu() -> None:
                try:
                    conn.transmit(bytes.fromhex("00A4020C020102"))
                except BaseException as exc:
                    outcome.append(exc)

            station = threading.Thread(target=stuck_apdu)
            station.start()
            assert card.stdout.readline().strip() == "stuck"
            card.kill()
            station.join(10)
            assert not station.is_alive()
            assert len(outcome) == 1 and isinstance(outcome[0], CardRemovedError), outcome
        reader.wait_for_removal(5)
    finally:
        card.kill()
        card.wait()
    # pcscd and the reader carry on: the next card works
    with VpcdLink(VirtualCard(CardApplication()), slot), reader.wait_for_card(5) as conn:
        assert conn.transmit(select_aid().to_bytes()) == b"\x90\x00"


def test_many_moves_on_four_readers_at_once() -> None:
    """Four benches' cards inserted, used and pulled 50 times each at once, a third of them
    pulled during a burst of APDUs: every card is seen and answers, and every pull ends its
    session with "card removed", never another error or a hang."""
    failures: list[str] = []
    pulled_mid_burst: list[int] = []

    def bench(seed: int) -> None:
        slot = claim_free_slot(wait_s=60.0)
        reader = PcscReader(slot.reader_name)
        pulls = 0
        try:
            for i in range(50):
                link = VpcdLink(VirtualCard(CardApplication()), slot)
                try:
                    link.insert()
                    with reader.wait_for_card(5) as conn:
                        assert conn.transmit(select_aid().to_bytes()) == b"\x90\x00"
                        if (i + seed) % 3 == 0:
                            puller = threading.Thread(target=link.remove)
                            puller.start()
                            try:
                                for _ in range(200):
                                    conn.transmit(select_aid().to_bytes())
                            except CardRemovedError:
                                pulls += 1
                            puller.join()
                except Exception as exc:
                    failures.append(f"{slot.reader_name} move {i}: {type(exc).__name__}: {exc}")
                finally:
                    link.remove()
        finally:
            pulled_mid_burst.append(pulls)
            slot.release()

    benches = [threading.Thread(target=bench, args=(k,)) for k in range(4)]
    for b in benches:
        b.start()
    for b in benches:
        b.join(120)
    assert not any(b.is_alive() for b in benches)
    assert failures == []
    assert sum(pulled_mid_burst) > 0  # the pulls did land during bursts
