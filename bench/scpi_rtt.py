"""Round trip of one SCPI query through pyvisa-py to the emulated load vs a bare TCP echo.

Run from the repo root: ``.venv/bin/python bench/scpi_rtt.py [N] [ROUNDS]`` (N samples per path
per round, default 2000 x 7 rounds).

A LAN instrument is its own device, so the emulated load (the same `ScpiServer` + `EmulatedLoad`
the tests use, on a real TCP socket) and the echo server run in a process of their own, spawned
here: in the client's process client and server would trade the GIL on every exchange, which no
real instrument costs. The echo is the fair floor: its server has the SCPI server's loop shape and
socket options (TCP_NODELAY, TCP_QUICKACK re-armed per message) and answers each line with a reply
as long as the real one; its client is a plain socket ``sendall`` + ``recv`` of the same command
bytes, with pyvisa-py's (default) client socket options. All paths are interleaved, rotating who
goes first, so they see the same machine state; the comparison is repeated in rounds and the
ratio reported per round and as the median of the rounds. Ends with one line of flat JSON.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import multiprocessing
import os
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

import pyvisa

from rig.load import DIALECTS, ElectronicLoad, LoadMode
from rig.sim.emulated_load import EmulatedLoad, Supply
from rig.sim.scpi_server import ScpiServer

DIALECT = "rig-sim"
COMMAND = "MEAS:POW?"
WARMUP = 200
DIALECT_SAMPLES = 500


# ---------------------------------------------------------------------- the server process
def _echo_connection(conn: socket.socket, reply: bytes) -> None:
    """`ScpiServer._serve` without the instrument: same options, same per-message steps."""
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    quickack = getattr(socket, "TCP_QUICKACK", None)
    buffer = b""
    with conn:
        while chunk := conn.recv(4096):
            if quickack is not None:
                conn.setsockopt(socket.IPPROTO_TCP, quickack, 1)
            buffer += chunk
            while b"\n" in buffer:
                _, buffer = buffer.split(b"\n", 1)
                conn.sendall(reply)


def _start_echo(reply: bytes) -> socket.socket:
    """Echo listener answering every line with ``reply``: accept thread, thread per client."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=_echo_connection, args=(conn, reply), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return listener


def serve_instruments(pipe: Connection) -> None:
    """Child process: one emulated load per dialect on its own port, and the echo server once
    the parent sends the reply it must mimic; runs until told to stop.

    Load and echo share this process on purpose: on a busy machine a process sometimes lands
    where its wake-ups are slow (2-4x for a whole round); in one process both servers share
    that fate, so the ratio compares software, not scheduler placement. Only one connection
    is ever active, so the servers' threads never compete for the GIL.
    """
    supply = Supply(Decimal(230), True)  # a steady grid: the world's lookup is not timed here
    servers = []
    for name in DIALECTS:
        load = EmulatedLoad(lambda: supply, dialect=name, seed=1)
        servers.append((name, ScpiServer(load).start()))
    echo: socket.socket | None = None
    try:
        pipe.send({name: server.port for name, server in servers})
        while (message := pipe.recv()) != "stop":  # EOFError when the parent is gone
            echo = _start_echo(message)
            pipe.send(echo.getsockname()[1])
    except EOFError:
        pass
    finally:
        if echo is not None:
            echo.close()
        for _, server in servers:
            server.stop()


class ServerProcess:
    """The spawned `serve_instruments` process: ``ports`` of its loads, `start_echo`, `stop`."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._pipe, child = ctx.Pipe()
        self._process = ctx.Process(target=serve_instruments, args=(child,), daemon=True)
        self._process.start()
        child.close()
        self.ports: dict[str, int] = self._receive()

    def _receive(self) -> Any:
        if not self._pipe.poll(30):
            raise RuntimeError("the instrument server process did not answer within 30 s")
        return self._pipe.recv()

    def start_echo(self, reply: bytes) -> int:
        """Start the echo server (answering ``reply`` to every line); returns its port."""
        self._pipe.send(reply)
        return int(self._receive())

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self._pipe.send("stop")
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.terminate()
        self._pipe.close()


# ---------------------------------------------------------------------- clients
def resource(port: int) -> str:
    return f"TCPIP0::127.0.0.1::{port}::SOCKET"


class BareClient:
    """Plain socket ``sendall`` + ``recv`` to the line end: the floor any client pays."""

    def __init__(self, port: int, command: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.request = (command + "\n").encode("ascii")

    def query(self) -> bytes:
        self.sock.sendall(self.request)
        reply = self.sock.recv(4096)
        while not reply.endswith(b"\n"):
            more = self.sock.recv(4096)
            if not more:
                raise ConnectionError("server closed the connection")
            reply += more
        return reply

    def close(self) -> None:
        self.sock.close()


def timed(action: Callable[[], object]) -> Callable[[], int]:
    def once() -> int:
        t0 = time.perf_counter_ns()
        action()
        return time.perf_counter_ns() - t0
    return once


def interleaved(paths: dict[str, Callable[[], int]], n: int) -> dict[str, list[int]]:
    """``n`` samples of each path, one of each per step, rotating which goes first."""
    names = list(paths)
    samples: dict[str, list[int]] = {name: [] for name in names}
    for i in range(n):
        k = i % len(names)
        for name in names[k:] + names[:k]:
            samples[name].append(paths[name]())
    return samples


def stats(samples_ns: list[int]) -> dict[str, float]:
    ms = sorted(s / 1e6 for s in samples_ns)
    q = statistics.quantiles(ms, n=100)
    return {"median": statistics.median(ms), "p90": q[89], "p99": q[98], "min": ms[0]}


# ---------------------------------------------------------------------- the run
def main(n: int = 2000, rounds: int = 7) -> dict[str, float]:
    load_before = os.getloadavg()[0]
    servers = ServerProcess()
    ports = servers.ports
    port = ports[DIALECT]
    rm = pyvisa.ResourceManager("@py")  # process-wide: closed last, it closes every session
    closers: list[Callable[[], object]] = [servers.stop, rm.close]
    try:
        # The driver sets the load up over the wire: CP 1500.5 W, input on (a real reading).
        driver = ElectronicLoad.open(resource(port), timeout_ms=2000)
        closers.append(driver.close)
        driver.set_mode(LoadMode.CP)
        driver.set_power(Decimal("1500.5"))
        driver.input_on()
        bare_load = BareClient(port, COMMAND)
        closers.append(bare_load.close)
        reply = bare_load.query()
        echo_port = servers.start_echo(reply)
        bare_echo = BareClient(echo_port, COMMAND)
        closers.append(bare_echo.close)
        opts = {"read_termination": "\n", "write_termination": "\n", "timeout": 2000}
        inst = rm.open_resource(resource(port), **opts)
        closers.append(inst.close)
        visa_echo = rm.open_resource(resource(echo_port), **opts)
        closers.append(visa_echo.close)

        paths = {
            "pyvisa": timed(lambda: inst.query(COMMAND)),
            "driver": timed(driver.measure_power),
            "echo": timed(bare_echo.query),
            "pyvisa_to_echo": timed(lambda: visa_echo.query(COMMAND)),
            "bare_to_load": timed(bare_load.query),
        }
        interleaved(paths, WARMUP)
        per_round: list[dict[str, list[int]]] = []
        for _ in range(rounds):
            gc.collect()
            per_round.append(interleaved(paths, n))

        # A setting command through the driver: the write plus its status check (one query),
        # *ESR? as the driver sends it, against the same driver checking with SYST:ERR? (its
        # dialect without the 488.2 status queries), interleaved on a second session.
        set_point = Decimal("1500.5")
        queue_check = ElectronicLoad.open(resource(port), timeout_ms=2000)
        closers.append(queue_check.close)
        queue_check.dialect = dataclasses.replace(queue_check.dialect, commands={
            op: cmd for op, cmd in queue_check.dialect.commands.items()
            if op not in ("event_status_query", "status_byte_query")})
        got = interleaved({"set": timed(lambda: driver.set_power(set_point)),
                           "set_queue": timed(lambda: queue_check.set_power(set_point)),
                           "echo": timed(bare_echo.query)}, n)
        set_median = statistics.median(got["set"]) / 1e6
        set_queue_median = statistics.median(got["set_queue"]) / 1e6
        set_ratio = statistics.median(got["set"]) / statistics.median(got["echo"])
        set_queue_ratio = statistics.median(got["set_queue"]) / statistics.median(got["echo"])

        dialect_rows = []
        for name, dialect_port in ports.items():
            load = ElectronicLoad.open(resource(dialect_port), dialect=name, timeout_ms=2000)
            closers.append(load.close)
            got = interleaved({"driver": timed(load.measure_power), "echo": timed(bare_echo.query)},
                              DIALECT_SAMPLES)
            dialect_rows.append((name, load.dialect.command("measure_power"),
                                 statistics.median(got["driver"]) / 1e6,
                                 statistics.median(got["driver"]) / statistics.median(got["echo"])))
    finally:
        for close in reversed(closers):
            close()
    load_after = os.getloadavg()[0]

    pooled = {name: stats([s for r in per_round for s in r[name]]) for name in paths}
    round_medians = [{name: statistics.median(r[name]) / 1e6 for name in paths} for r in per_round]
    ratios = [m["pyvisa"] / m["echo"] for m in round_medians]
    driver_ratios = [m["driver"] / m["echo"] for m in round_medians]

    print(f"SCPI round trip on loopback, {rounds} rounds x N={n} per path, interleaved "
          f"({WARMUP} warm-up); emulated load and echo in a server process of their own")
    print(f"query {COMMAND!r} -> {reply.decode().strip()!r}; the echo answers the same "
          f"{len(COMMAND) + 1} bytes with {len(reply)} bytes; load average {load_before:.2f} -> "
          f"{load_after:.2f}")
    print(f"{'round':<7}{'pyvisa':>9}{'driver':>9}{'echo':>9}{'ratio':>7}{'driver':>7}"
          f"{'v->echo':>9}{'bare->ld':>9}  (medians, ms; ratio = pyvisa / echo)")
    for i, (m, ratio, dratio) in enumerate(zip(round_medians, ratios, driver_ratios, strict=True)):
        print(f"{i + 1:<7}{m['pyvisa']:>9.4f}{m['driver']:>9.4f}{m['echo']:>9.4f}"
              f"{ratio:>7.2f}{dratio:>7.2f}{m['pyvisa_to_echo']:>9.4f}{m['bare_to_load']:>9.4f}")
    labels = {
        "pyvisa": "pyvisa-py inst.query -> load",
        "driver": "driver measure_power -> load",
        "echo": "bare socket -> echo",
        "pyvisa_to_echo": "  pyvisa-py -> echo (client)",
        "bare_to_load": "  bare socket -> load (server)",
    }
    print(f"{'all rounds':<32}{'median':>9}{'p90':>9}{'p99':>9}{'min':>9}  (ms)")
    for name, label in labels.items():
        s = pooled[name]
        print(f"{label:<32}" + "".join(f"{s[k]:>9.4f}" for k in ("median", "p90", "p99", "min")))
    ratio = statistics.median(ratios)
    driver_ratio = statistics.median(driver_ratios)
    echo_ms = pooled["echo"]["median"]
    print(f"ratio pyvisa/echo: median of rounds {ratio:.2f} (min {min(ratios):.2f}, "
          f"max {max(ratios):.2f}); driver/echo {driver_ratio:.2f}; goal <= 2")
    print(f"where the time goes (medians over the echo's {echo_ms:.4f} ms): "
          f"pyvisa-py client +{pooled['pyvisa_to_echo']['median'] - echo_ms:.4f} ms, "
          f"emulated load server +{pooled['bare_to_load']['median'] - echo_ms:.4f} ms")
    print(f"driver set_power + *ESR?: median {set_median:.4f} ms ({set_ratio:.2f}x the echo "
          f"beside it); + SYST:ERR? instead: {set_queue_median:.4f} ms ({set_queue_ratio:.2f}x)")
    for name, command, median, dratio in dialect_rows:
        print(f"  dialect {name:<16} {command:<16} driver median {median:.4f} ms "
              f"({dratio:.2f}x the echo beside it)")

    result: dict[str, float] = {
        "pyvisa_query_median_ms": round(pooled["pyvisa"]["median"], 4),
        "pyvisa_query_p90_ms": round(pooled["pyvisa"]["p90"], 4),
        "pyvisa_query_p99_ms": round(pooled["pyvisa"]["p99"], 4),
        "driver_query_median_ms": round(pooled["driver"]["median"], 4),
        "driver_query_p99_ms": round(pooled["driver"]["p99"], 4),
        "bare_echo_median_ms": round(echo_ms, 4),
        "bare_echo_p90_ms": round(pooled["echo"]["p90"], 4),
        "bare_echo_p99_ms": round(pooled["echo"]["p99"], 4),
        "ratio": round(ratio, 2),
        "ratio_min": round(min(ratios), 2),
        "ratio_max": round(max(ratios), 2),
        "driver_ratio": round(driver_ratio, 2),
        **{f"ratio_round_{i + 1}": round(r, 2) for i, r in enumerate(ratios)},
        "pyvisa_to_echo_median_ms": round(pooled["pyvisa_to_echo"]["median"], 4),
        "bare_to_load_median_ms": round(pooled["bare_to_load"]["median"], 4),
        "client_share_ratio": round(pooled["pyvisa_to_echo"]["median"] / echo_ms, 2),
        "server_share_ratio": round(pooled["bare_to_load"]["median"] / echo_ms, 2),
        "driver_set_median_ms": round(set_median, 4),
        "driver_set_ratio": round(set_ratio, 2),
        "driver_set_syst_err_median_ms": round(set_queue_median, 4),
        "driver_set_syst_err_ratio": round(set_queue_ratio, 2),
        **{f"dialect_{name}_query_median_ms": round(median, 4)
           for name, _, median, _ in dialect_rows},
        "load_average": round(max(load_before, load_after), 2),
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
