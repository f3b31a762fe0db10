"""Round trip of one APDU through pyscard -> pcscd -> vpcd -> the virtual card, vs a bare TCP echo.

Run from the repo root: ``.venv/bin/python bench/apdu_rtt.py [N] [--same-process]``.

Takes a free vpcd reader slot (`claim_free_slot`, so it never collides with a test run), inserts
a personalised virtual card, selects the application and times two APDUs the rig sends all the
time — SELECT of the purchase EF and READ BINARY of its 27-byte record (after SELECT EF, each
answered with the real data and 9000) — through a real pyscard connection
(`PcscReader.wait_for_card`, then `PcscConnection.transmit_named` as `CardSession` calls it).
Beside it, interleaved so both see the same machine state, a bare TCP echo on loopback: the
same vpcd framing and byte counts (2-byte length + C-APDU out, 2-byte length + R-APDU back), a
server with the virtual card's socket options (TCP_NODELAY, TCP_QUICKACK re-armed before each
message) and a client with TCP_NODELAY: the least one request/reply over loopback costs Python.

The cards and the echo server run in a child process, the measuring client in this one.
Measured both ways (``--same-process`` puts both servers in threads of this process): in one
process the echo gets faster (a thread of the same process wakes cheaply) while the card path
crosses into pcscd and back either way, so the ratio grows by 0.3-0.5; and the card's serve
thread waits for the GIL behind the client, which shows in the card path's p99 (~4 ms). The
child process is the fairer design: both paths cross process boundaries alike, and the card is
a separate program as in `rig sim` or a real writer.

Rows below the headline say where the time goes, each a real round trip:

- raw ``SCardTransmit`` to the same card (pyscard's C binding, no rig code on the client):
  the headline minus this row is the rig's client-side share;
- raw ``SCardTransmit`` to a table-lookup card on a second vpcd slot (the same serve loop, but
  the answer is looked up, not computed): the floor pcscd and vpcd impose on any card, and
  this row over the echo is the best ratio any card served by the rig can reach here;
- pcscd alone: ``SCardGetAttrib(SCARD_ATTR_VENDOR_NAME)``, one round trip from the client
  through pcscd's per-call reader checks into the driver, which has no such attribute and says
  so without card I/O. (``SCardStatus``, used before, is two round trips in pcsc-lite: it
  first fetches every reader's state.)
- the virtual card's own Python per APDU (measured in its serve loop).

A round trip depends on what ran just before it (one right after a transmit is ~10% faster),
so the three transmit rows take turns in the same place, alternating with the echo as the
headline pair always has; the pcscd row closes each round. Prints a table and, last, one line
of flat JSON (name -> number).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import socket
import statistics
import sys
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from rig.card import apdu as A
from rig.card.application import FID_CARD_INFO, FID_PURCHASE, CardApplication
from rig.card.records import CardInfo, CardType, CreditUnit, PurchaseRecord
from rig.sim.virtual_card import VirtualCard, VpcdLink
from rig.sim.vpcd import VpcdSlot, claim_free_slot

if TYPE_CHECKING:
    from collections.abc import Callable

    from rig.card.pcsc import PcscConnection

WARMUP = 200
METER = "123456789012"
KEY = bytes(range(16))  # a bench constant MACing the sample record; not a secret
SELECT_AID = A.select_aid().to_bytes()
SELECT = A.select_ef(FID_PURCHASE).to_bytes()
READ_PURCHASE = A.read_binary(0, PurchaseRecord.SIZE, FID_PURCHASE).to_bytes()


def sample_card() -> CardApplication:
    """A personalised user card carrying one purchase (what a READ BINARY really returns)."""
    info = CardInfo(CardType.USER, "00000000000000B1", METER, 1, 7)
    purchase = PurchaseRecord(METER, 1, 12_345, CreditUnit.MONEY_CENTS, 1, 1).sign(KEY)
    return CardApplication({FID_CARD_INFO: info.to_bytes(), FID_PURCHASE: purchase.to_bytes()})


class TimedLink(VpcdLink):
    """The virtual card's vpcd link, also recording its own processing time per APDU."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.card_ns: list[int] = []

    def _handle(self, payload: bytes) -> bytes | None:
        t0 = time.perf_counter_ns()
        reply = super()._handle(payload)
        if len(payload) > 1:
            self.card_ns.append(time.perf_counter_ns() - t0)
        return reply


class TableCard(VirtualCard):
    """A card that looks each answer up (``replies`` maps C-APDU -> R-APDU) instead of running
    the card application: served by the same `VpcdLink`, it shows pcscd + vpcd alone."""

    def __init__(self, replies: dict[bytes, bytes]) -> None:
        super().__init__(sample_card())
        self.replies = replies

    def power(self) -> None:
        pass

    def process(self, apdu: bytes) -> bytes:
        return self.replies[apdu]


class EchoServer:
    """Bare TCP echo in vpcd framing: answers each framed request with a framed reply of the
    size the card gives (``replies`` maps request -> reply), with the card's socket options."""

    def __init__(self, replies: dict[bytes, bytes]) -> None:
        self.replies = replies
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._run, daemon=True, name="bare-echo")
        self.thread.start()

    def _run(self) -> None:
        conn, _ = self.listener.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = bytearray()
        with conn:
            while True:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
                chunk = conn.recv(65538)
                if not chunk:
                    return
                buf += chunk
                while len(buf) >= 2 and len(buf) >= (end := 2 + ((buf[0] << 8) | buf[1])):
                    reply = self.replies[bytes(buf[2:end])]
                    del buf[:end]
                    conn.sendall(len(reply).to_bytes(2, "big") + reply)

    def close(self) -> None:
        self.listener.close()
        self.thread.join(timeout=2)


class Servers:
    """The virtual card and the table-lookup card on their vpcd slots plus the bare echo
    server, all in one process."""

    def __init__(self, slot_index: int, table_slot_index: int,
                 replies: dict[bytes, bytes]) -> None:
        self.link = TimedLink(VirtualCard(sample_card()), VpcdSlot(slot_index))
        self.table_link = VpcdLink(TableCard({SELECT_AID: b"\x90\x00", **replies}),
                                   VpcdSlot(table_slot_index))
        self.echo = EchoServer(replies)
        self.link.insert()
        self.table_link.insert()

    def close(self) -> dict[str, float]:
        self.link.remove()
        self.table_link.remove()
        self.echo.close()
        ns = self.link.card_ns[WARMUP:] or self.link.card_ns or [0]
        return {"card_median_ms": statistics.median(ns) / 1e6,
                "card_p99_ms": _pct(sorted(ns), 99) / 1e6}


def _serve_in_child(pipe: Connection, slot_index: int, table_slot_index: int,
                    replies: dict[bytes, bytes]) -> None:
    servers = Servers(slot_index, table_slot_index, replies)
    pipe.send(servers.echo.port)
    pipe.recv()  # the client is done and has released the readers
    pipe.send(servers.close())


def _pct(sorted_values: list[int] | list[float], p: int) -> float:
    return float(sorted_values[min(len(sorted_values) - 1, len(sorted_values) * p // 100)])


def _summary(samples_ns: list[int]) -> dict[str, float]:
    ms = sorted(s / 1e6 for s in samples_ns)
    return {"median": statistics.median(ms), "p90": _pct(ms, 90), "p99": _pct(ms, 99),
            "min": ms[0], "max": ms[-1]}


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("echo server closed the connection")
        buf += chunk
    return buf


# Rows of the table, in print order: (key in the samples, label).
ROWS = (
    ("card", "pyscard -> pcscd -> vpcd -> card"),
    ("echo", "bare TCP echo, same bytes"),
    ("raw", "  raw SCardTransmit, same card"),
    ("table", "  raw SCardTransmit, table-lookup card"),
    ("pcscd", "  pcscd alone (SCardGetAttrib)"),
)


def measure(n: int, same_process: bool) -> dict[str, float]:
    from smartcard import scard

    from rig.card.pcsc import PcscReader

    card = sample_card()
    card.process(SELECT_AID)  # once per session, as a terminal does
    replies = {apdu: card.process(apdu) for apdu in (SELECT, READ_PURCHASE)}
    assert replies[READ_PURCHASE] == PurchaseRecord.from_bytes(
        replies[READ_PURCHASE][:-2]).to_bytes() + b"\x90\x00", replies
    slot = claim_free_slot(wait_s=60.0)
    table_slot: VpcdSlot | None = None
    child: mp.process.BaseProcess | None = None
    servers: Servers | None = None
    try:
        table_slot = claim_free_slot(wait_s=60.0)
        if same_process:
            servers = Servers(slot.index, table_slot.index, replies)
            echo_port = servers.echo.port
        else:
            parent_end, child_end = mp.Pipe()
            child = mp.get_context("spawn").Process(
                target=_serve_in_child, args=(child_end, slot.index, table_slot.index, replies),
                daemon=True)
            child.start()
            if not parent_end.poll(30):
                raise RuntimeError("the virtual card process did not start within 30 s")
            echo_port = parent_end.recv()
        bare = socket.create_connection(("127.0.0.1", echo_port))
        bare.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = PcscReader(slot.reader_name).wait_for_card(10)
        table_conn = PcscReader(table_slot.reader_name).wait_for_card(10)
        try:
            samples = _sample(n, conn, table_conn, bare, replies, scard)
        finally:
            conn.close()  # before the card leaves: pcscd powers it down through vpcd
            table_conn.close()
            bare.close()
        if servers is not None:
            card_side = servers.close()
            servers = None
        else:
            assert child is not None
            parent_end.send("done")
            if not parent_end.poll(30):
                raise RuntimeError("the virtual card process did not stop within 30 s")
            card_side = parent_end.recv()
    finally:
        if servers is not None:
            servers.close()
        if child is not None:
            child.join(timeout=10)
            if child.is_alive():
                child.terminate()
        slot.release()
        if table_slot is not None:
            table_slot.release()
    return {**_report(n, same_process, slot, table_slot, samples), **card_side}


def _sample(n: int, conn: PcscConnection, table_conn: PcscConnection, bare: socket.socket,
            replies: dict[bytes, bytes], scard: Any) -> dict[tuple[str, bytes], list[int]]:
    """``n`` timed round trips per row and APDU (ns). Each round is one transmit row and the
    echo, in alternating order, then the pcscd row; the transmit rows take turns."""
    framed = {apdu: len(apdu).to_bytes(2, "big") + apdu for apdu in replies}
    want = {apdu: 2 + len(reply) for apdu, reply in replies.items()}
    names = {apdu: A.describe(apdu) for apdu in replies}  # as CardSession.send passes
    commands = {apdu: list(apdu) for apdu in replies}
    hcard, table_hcard = conn._hcard, table_conn._hcard
    t1, ok = scard.SCARD_PCI_T1, scard.SCARD_S_SUCCESS
    pcscd_answers = (ok, scard.SCARD_E_UNSUPPORTED_FEATURE)  # vpcd has no vendor name
    for c in (conn, table_conn):
        assert c.transmit(SELECT_AID) == b"\x90\x00"

    def card(apdu: bytes) -> int:
        t0 = time.perf_counter_ns()
        response = conn.transmit_named(apdu, names[apdu])
        dt = time.perf_counter_ns() - t0
        assert response == replies[apdu], response.hex()
        return dt

    def raw_transmit(handle: int, row: str) -> Callable[[bytes], int]:
        """pyscard's C binding alone, to the card behind ``handle`` (samples keyed ``row``)."""
        def timed(apdu: bytes) -> int:
            command = commands[apdu]
            t0 = time.perf_counter_ns()
            rc, response = scard.SCardTransmit(handle, t1, command)
            dt = time.perf_counter_ns() - t0
            assert rc == ok and bytes(response) == replies[apdu], scard.SCardGetErrorMessage(rc)
            return dt
        timed.__name__ = row
        return timed

    raw, table = raw_transmit(hcard, "raw"), raw_transmit(table_hcard, "table")

    def pcscd(apdu: bytes) -> int:  # one round trip into pcscd and back, no card I/O
        t0 = time.perf_counter_ns()
        rc = scard.SCardGetAttrib(hcard, scard.SCARD_ATTR_VENDOR_NAME)[0]
        dt = time.perf_counter_ns() - t0
        assert rc in pcscd_answers, scard.SCardGetErrorMessage(rc)
        return dt

    def echo(apdu: bytes) -> int:
        t0 = time.perf_counter_ns()
        bare.sendall(framed[apdu])
        _recv_exact(bare, want[apdu])
        return time.perf_counter_ns() - t0

    transmits = (card, raw, table)
    samples: dict[tuple[str, bytes], list[int]] = {}
    for apdu in (SELECT, READ_PURCHASE):
        for _ in range(WARMUP):
            card(apdu), echo(apdu), raw(apdu), table(apdu), pcscd(apdu)
    for i in range(2 * len(transmits) * n):  # each transmit row n times in either order
        row = transmits[(i // 2) % len(transmits)]
        order = (row, echo) if i % 2 else (echo, row)
        for apdu in (SELECT, READ_PURCHASE):
            for f in (*order, pcscd):
                samples.setdefault((f.__name__, apdu), []).append(f(apdu))
    return samples


def _report(n: int, same_process: bool, slot: VpcdSlot, table_slot: VpcdSlot,
            samples: dict[tuple[str, bytes], list[int]]) -> dict[str, float]:
    where = "threads of this process" if same_process else "a child process"
    print(f"APDU round trip, N={n} per transmit row ({2 * len(ROWS[2:]) * n} echo and pcscd), "
          f"interleaved ({WARMUP} warm-up); readers {slot.reader_name!r} (card) and "
          f"{table_slot.reader_name!r} (table-lookup card); cards and echo server in {where}")
    print(f"{'path':<44}{'median':>9}{'p90':>9}{'p99':>9}{'min':>9}{'max':>9}  (ms)")
    result: dict[str, float] = {}
    for apdu, label in ((SELECT, "select"), (READ_PURCHASE, "read_binary")):
        s = {key: _summary(samples[key, apdu]) for key, _ in ROWS}
        print(f"{A.describe(apdu)} ({len(apdu)} bytes out)")
        for key, title in ROWS:
            print(f"  {title:<42}" + "".join(f"{s[key][k]:>9.4f}" for k in (
                "median", "p90", "p99", "min", "max")))
        med = {key: s[key]["median"] for key, _ in ROWS}
        ratio, floor = med["card"] / med["echo"], med["table"] / med["echo"]
        hop = med["pcscd"] / med["echo"]
        print(f"  ratio card/echo (median) {ratio:.2f}; floor (table-lookup card)/echo "
              f"{floor:.2f}; pcscd's own round trip {hop:.2f} echoes")
        print(f"  over the floor: rig client {(med['card'] - med['raw']) * 1000:+.1f} us, card "
              f"application {(med['raw'] - med['table']) * 1000:+.1f} us; floor over one echo: "
              f"{(med['table'] - med['echo']) * 1000:.1f} us")
        result |= {
            f"{label}_median_ms": round(med["card"], 4),
            f"{label}_p99_ms": round(s["card"]["p99"], 4),
            f"{label}_echo_median_ms": round(med["echo"], 4),
            f"{label}_echo_p99_ms": round(s["echo"]["p99"], 4),
            f"{label}_ratio": round(ratio, 2),
            f"{label}_raw_scard_median_ms": round(med["raw"], 4),
            f"{label}_table_card_median_ms": round(med["table"], 4),
            f"{label}_floor_ratio": round(floor, 2),
            f"{label}_pcscd_hop_median_ms": round(med["pcscd"], 4),
            f"{label}_pcscd_hop_ratio": round(hop, 2),
        }
    return result


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", nargs="?", type=int, default=2000, help="samples per row")
    parser.add_argument("--same-process", action="store_true",
                        help="run the virtual card and echo server in threads of this process")
    args = parser.parse_args(argv)
    result = measure(args.n, args.same_process)
    print(f"virtual card's own Python per APDU: median {result['card_median_ms']:.4f} ms, "
          f"p99 {result['card_p99_ms']:.4f} ms")
    goal = all(result[f"{apdu}_median_ms"] < 0.2 and result[f"{apdu}_ratio"] <= 3
               for apdu in ("select", "read_binary"))
    print(f"goal (median < 0.2 ms and within 3x the bare echo, both APDUs): "
          f"{'met' if goal else 'NOT met'}")
    out = {k: round(v, 4) for k, v in result.items()}
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
