"""Round-trip time of one SCPI query through pyvisa-py vs a bare socket echo, on loopback.

Run from the repo root: ``.venv/bin/python bench/scpi_rtt.py [N]``. Starts the emulated load's
SCPI server and a bare TCP echo server, then times ``MEAS:POW?`` through pyvisa (pyvisa-py,
``TCPIP0::127.0.0.1::PORT::SOCKET``) and a bare echo of the same command bytes, interleaved so
both see the same machine state. Prints a table and, last, one line of flat JSON (name ->
number) for CI to parse.
"""

from __future__ import annotations

import json
import socket
import statistics
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

import pyvisa
from pyvisa import constants

from rig.load.dialects import DIALECTS
from rig.sim.emulated_load import EmulatedLoad, Supply
from rig.sim.scpi_server import ScpiServer

COMMAND = "MEAS:POW?"
WARMUP = 50


class EchoServer:
    """Line echo server with the same socket options as the SCPI server (the baseline)."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        conn, _ = self.listener.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        quickack = getattr(socket, "TCP_QUICKACK", None)
        buffer = b""
        with conn:
            while chunk := conn.recv(4096):
                if quickack is not None:
                    conn.setsockopt(socket.IPPROTO_TCP, quickack, 1)
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    conn.sendall(line + b"\n")

    def close(self) -> None:
        self.listener.close()
        self.thread.join(timeout=2)


def _summary(samples_ns: list[int]) -> dict[str, float]:
    ms = sorted(s / 1e6 for s in samples_ns)
    return {
        "median": statistics.median(ms),
        "p10": ms[len(ms) // 10],
        "p90": ms[len(ms) * 9 // 10],
        "min": ms[0],
        "max": ms[-1],
    }


def dialect_medians(n: int) -> dict[str, float]:
    """Median ``measure_power`` query through pyvisa-py per emulated dialect (ms)."""
    medians: dict[str, float] = {}
    rm = pyvisa.ResourceManager("@py")
    try:
        for name, dialect in DIALECTS.items():
            load = EmulatedLoad(lambda: Supply(Decimal(230), True), dialect=name, seed=1)
            with ScpiServer(load) as server:
                inst = rm.open_resource(server.resource, read_termination="\n",
                                        write_termination="\n", timeout=2000)
                query = dialect.commands["measure_power"]
                samples = []
                for i in range(WARMUP + n):
                    t0 = time.perf_counter_ns()
                    inst.query(query)
                    if i >= WARMUP:
                        samples.append(time.perf_counter_ns() - t0)
                inst.close()
            medians[name] = round(statistics.median(samples) / 1e6, 4)
    finally:
        rm.close()
    return medians


def main(n: int = 500) -> dict[str, float]:
    load = EmulatedLoad(lambda: Supply(Decimal(230), True), seed=1)
    load.set_power(Decimal("1500.5"))
    load.set_input(True)
    server = ScpiServer(load).start()
    echo = EchoServer()
    rm = pyvisa.ResourceManager("@py")
    inst = rm.open_resource(
        server.resource, read_termination="\n", write_termination="\n", timeout=2000
    )
    try:
        inst.set_visa_attribute(constants.VI_ATTR_TCPIP_NODELAY, constants.VI_TRUE)
        client_nodelay = "on"
    except Exception as exc:  # pyvisa-py 0.8.1 registers no setter for SOCKET sessions
        client_nodelay = f"not settable ({type(exc).__name__})"
    # Same client socket options as pyvisa-py's (defaults), so only the stack above differs.
    bare = socket.create_connection(("127.0.0.1", echo.port))
    request = (COMMAND + "\n").encode()
    reader = bare.makefile("rb")
    # Where the time goes: pyvisa-py against the trivial echo (client cost alone) and a bare
    # socket against the SCPI server (server cost alone).
    echo2 = EchoServer()
    inst_echo = rm.open_resource(f"TCPIP0::127.0.0.1::{echo2.port}::SOCKET",
                                 read_termination="\n", write_termination="\n", timeout=2000)
    bare_scpi = socket.create_connection(("127.0.0.1", server.port))
    scpi_reader = bare_scpi.makefile("rb")

    def visa_echo_once() -> int:
        t0 = time.perf_counter_ns()
        inst_echo.query(COMMAND)
        return time.perf_counter_ns() - t0

    def bare_scpi_once() -> int:
        t0 = time.perf_counter_ns()
        bare_scpi.sendall(request)
        scpi_reader.readline()
        return time.perf_counter_ns() - t0

    def visa_once() -> int:
        t0 = time.perf_counter_ns()
        inst.query(COMMAND)
        return time.perf_counter_ns() - t0

    def bare_once() -> int:
        t0 = time.perf_counter_ns()
        bare.sendall(request)
        reader.readline()
        return time.perf_counter_ns() - t0

    try:
        for _ in range(WARMUP):
            visa_once()
            bare_once()
        visa_ns: list[int] = []
        bare_ns: list[int] = []
        visa_echo_ns: list[int] = []
        bare_scpi_ns: list[int] = []
        for _ in range(WARMUP):
            visa_echo_once()
            bare_scpi_once()
        for i in range(n):  # interleaved, alternating who goes first
            if i % 2:
                visa_ns.append(visa_once())
                bare_ns.append(bare_once())
            else:
                bare_ns.append(bare_once())
                visa_ns.append(visa_once())
            visa_echo_ns.append(visa_echo_once())
            bare_scpi_ns.append(bare_scpi_once())
        reply = inst.query(COMMAND)
    finally:
        reader.close()
        bare.close()
        scpi_reader.close()
        bare_scpi.close()
        inst_echo.close()
        echo2.close()
        inst.close()
        rm.close()
        server.stop()
        echo.close()

    v, b = _summary(visa_ns), _summary(bare_ns)
    ve, bs = _summary(visa_echo_ns), _summary(bare_scpi_ns)
    print(f"SCPI round trip on loopback, N={n} each, interleaved ({WARMUP} warm-up)")
    print(f"query {COMMAND!r} -> reply {reply!r}; echo of {len(request)} bytes")
    print("server sockets: TCP_NODELAY + TCP_QUICKACK; "
          f"pyvisa client TCP_NODELAY: {client_nodelay}")
    print(f"{'path':<28}{'median':>10}{'p10':>10}{'p90':>10}{'min':>10}{'max':>10}  (ms)")
    for name, s in (("pyvisa-py query (sim load)", v), ("bare socket echo", b),
                    ("  pyvisa-py -> bare echo", ve), ("  bare socket -> sim load", bs)):
        print(f"{name:<28}" + "".join(f"{s[k]:>10.4f}" for k in ("median", "p10", "p90", "min",
                                                                    "max")))
    per_dialect = dialect_medians(max(50, n // 5))
    ratio = round(v["median"] / b["median"], 2)
    print(f"ratio pyvisa/bare (median): {ratio}")
    for name, median in per_dialect.items():
        print(f"  dialect {name:<16} measure_power median {median:.4f} ms "
              f"({median / b['median']:.2f}x the bare echo)")
    result: dict[str, float] = {
        "pyvisa_query_median_ms": round(v["median"], 4),
        "bare_echo_median_ms": round(b["median"], 4),
        "pyvisa_query_p90_ms": round(v["p90"], 4),
        "bare_echo_p90_ms": round(b["p90"], 4),
        "ratio": ratio,
        "pyvisa_to_echo_median_ms": round(ve["median"], 4),
        "bare_to_sim_load_median_ms": round(bs["median"], 4),
        "client_share_ratio": round(ve["median"] / b["median"], 2),
        **{f"dialect_{name}_query_median_ms": median for name, median in per_dialect.items()},
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
