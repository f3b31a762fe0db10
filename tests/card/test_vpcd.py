"""The virtual card on vsmartcard's vpcd, reached only through pyscard like real hardware.

Uses slot 1 ("Virtual PCD 00 01", TCP 35964) by default; override with RIG_TEST_VPCD_SLOT.
"""

import os
import re

import pytest

from rig.card import CardApplication, CardInfo, CardSession, CardType, CreditUnit, PurchaseRecord
from rig.card.apdu import CardRemovedError, NoCardError, NoReaderError, read_binary, select_aid
from rig.errors import CardError
from rig.sim.virtual_card import DEFAULT_ATR, VirtualCard, VpcdLink, make_atr
from rig.sim.vpcd import SlotBusyError, VpcdSlot, claim_free_slot

FIXED_SLOT = os.environ.get("RIG_TEST_VPCD_SLOT")
KEY = bytes(range(16))


def _vpcd_reachable(port: int) -> bool:
    """Is something LISTENing on the port? Read /proc/net/tcp instead of connecting, because a
    probe connection would itself look like a card insertion to vpcd."""
    hexport = f"{port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if cols[1].rsplit(":", 1)[1] == hexport and cols[3] == "0A":
                return True
    return False


def test_atr_is_valid_t1_with_historical_bytes() -> None:
    from smartcard.ATR import ATR

    atr = ATR(list(DEFAULT_ATR))
    assert atr.checksumOK
    assert atr.getSupportedProtocols() == {"T=1": True}
    assert bytes(atr.getHistoricalBytes()) == b"RIGPP"
    assert DEFAULT_ATR == make_atr(b"RIGPP") == bytes.fromhex("3B85015249475050D8")


def test_slot_lock_is_exclusive(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("rig.sim.vpcd.LOCK_DIR", str(tmp_path))
    monkeypatch.setenv("RIG_READERS", "vpcd")  # rig's own readers: tests/sim/test_reader_slots.py
    a = VpcdSlot(0)
    assert (a.port, a.reader_name) == (35963, "Virtual PCD 00 00")
    assert (VpcdSlot(1).port, VpcdSlot(1).reader_name) == (35964, "Virtual PCD 00 01")
    with a:
        with pytest.raises(SlotBusyError, match="Virtual PCD 00 00"):
            VpcdSlot(0).claim()
        b = claim_free_slot(2)
        assert b.index == 1
        with pytest.raises(SlotBusyError, match="all 2 vpcd slots"):
            claim_free_slot(2)
        b.release()
    VpcdSlot(0).claim().release()


def test_slots_map_to_ports_and_reader_names(monkeypatch) -> None:
    """On vpcd, slot i is port 35963 + i; the Debian reader's two slots first, then setup.sh's
    readers (rig's own readers: tests/sim/test_reader_slots.py)."""
    monkeypatch.setenv("RIG_READERS", "vpcd")
    names = [(VpcdSlot(i).port, VpcdSlot(i).reader_name) for i in (0, 1, 2, 5, 7)]
    assert names == [(35963, "Virtual PCD 00 00"), (35964, "Virtual PCD 00 01"),
                     (35965, "rig vpcd 1 00 00"), (35968, "rig vpcd 2 00 01"),
                     (35970, "rig vpcd 3 00 01")]


def test_setup_offers_parallel_benches_a_reader_each() -> None:
    """After setup.sh, pcscd lists every slot, and each one's card port is listening."""
    from rig.sim.vpcd import MAX_SLOTS, available_slots

    if not _vpcd_reachable(VpcdSlot(0).port):
        pytest.skip("vpcd not running (run ./setup.sh)")
    assert available_slots() == MAX_SLOTS
    assert all(_vpcd_reachable(VpcdSlot(i).port) for i in range(MAX_SLOTS))


@pytest.fixture
def slot():
    """A vpcd slot of our own: $RIG_TEST_VPCD_SLOT, else whichever frees up first (other
    benches on this machine, e.g. parallel test runs, hold the rest)."""
    if not _vpcd_reachable(VpcdSlot(0).port):
        pytest.skip("vpcd not listening on 127.0.0.1:35963 (start pcscd with vsmartcard)")
    from rig.card.pcsc import list_readers

    try:
        present = list_readers()
    except NoReaderError as exc:
        pytest.skip(f"pcscd not reachable: {exc}")
    if FIXED_SLOT is not None:
        s = VpcdSlot(int(FIXED_SLOT))
        if s.reader_name not in present:
            pytest.skip(f"PC/SC reader {s.reader_name!r} not present")
        s = claim_free_slot(wait_s=60.0, indices=[s.index])
    else:
        s = claim_free_slot(wait_s=60.0)
    yield s
    s.release()


def test_reader_lookup(slot: VpcdSlot) -> None:
    from rig.card.pcsc import PcscReader, list_readers

    assert slot.reader_name in list_readers()
    assert PcscReader(slot.reader_name).name == slot.reader_name
    assert PcscReader(re.escape(slot.reader_name[-9:]) + "$").name == slot.reader_name
    with pytest.raises(NoReaderError, match="readers present") as ei:
        PcscReader("No Such Reader 42")
    assert slot.reader_name in str(ei.value)
    with pytest.raises(NoReaderError, match="ambiguous"):
        PcscReader(slot.reader_name.split()[0])  # "Virtual" or "rig": every driver has two+


def test_no_card_times_out(slot: VpcdSlot) -> None:
    from rig.card.pcsc import PcscReader

    reader = PcscReader(slot.reader_name)
    with pytest.raises(NoCardError, match=rf"{slot.reader_name}.*0.3 s"):
        reader.wait_for_card(0.3)


def test_virtual_card_full_cycle(slot: VpcdSlot) -> None:
    from rig.card.pcsc import PcscReader

    app = CardApplication()
    link = VpcdLink(VirtualCard(app), slot)
    reader = PcscReader(slot.reader_name)
    info = CardInfo(CardType.USER, "00000000000000A1", "123456789012", 1, 7)
    purchase = PurchaseRecord("123456789012", 1, 12_345, CreditUnit.MONEY_CENTS, 1, 1).sign(KEY)
    try:
        link.insert()
        assert link.inserted
        with reader.wait_for_card(5) as conn:
            assert conn.atr == DEFAULT_ATR
            s = CardSession(conn)
            s.select_application()
            s.write_info(info)
            s.write_purchase(purchase)
            assert s.read_info() == info
            assert s.read_purchase().verify(KEY) == purchase

            # the same APDU again and again answers the same (timing: bench/apdu_rtt.py)
            raw = read_binary(0, 27).to_bytes()
            conn.transmit(bytes.fromhex("00A4020C020102"))
            answers = {conn.transmit(raw) for _ in range(50)}
            assert answers == {purchase.to_bytes() + b"\x90\x00"}

            with pytest.raises(CardError, match=rf"card still in reader '{slot.reader_name}' "
                                                r"after 0.3 s"):
                reader.wait_for_removal(0.3)
            link.remove()
            assert not link.inserted
            with pytest.raises(CardRemovedError) as ei:
                conn.transmit(select_aid().to_bytes())
            assert slot.reader_name in str(ei.value)
            assert "SELECT AID" in str(ei.value)
        reader.wait_for_removal(5)
        assert not reader.card_present()
        with pytest.raises(NoCardError):
            reader.wait_for_card(0.2)

        link.insert()
        with reader.wait_for_card(5) as conn:
            s = CardSession(conn)
            assert s.read_info() == info
            assert s.read_purchase() == purchase
        assert link.error is None
    finally:
        link.remove()


def test_insert_unreachable_port_is_clear() -> None:
    class Dead(VpcdSlot):
        pass

    dead = Dead(0)
    dead.port = 1  # nothing listens on port 1
    with pytest.raises(CardError, match="unreachable"):
        VpcdLink(VirtualCard(CardApplication()), dead).insert(timeout=0.5)


def test_next_bench_takes_another_free_reader(tmp_path, monkeypatch) -> None:
    """A suite opening benches one after another rotates through the free readers, so a new
    bench never waits for pcscd to notice the card the last bench just pulled."""
    monkeypatch.setattr("rig.sim.vpcd.LOCK_DIR", str(tmp_path))
    monkeypatch.setattr("rig.sim.vpcd._last_claimed", None)
    used = []
    for _ in range(4):
        slot = claim_free_slot(3)
        used.append(slot.index)
        slot.release()
    assert used == [0, 1, 2, 0]
    with VpcdSlot(1):  # another bench holds the next one: the one after it
        slot = claim_free_slot(3)
        assert slot.index == 2
        slot.release()
    named = claim_free_slot(wait_s=0, indices=[0])
    assert named.index == 0  # a slot asked for by number is still that one
    named.release()
