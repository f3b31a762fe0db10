"""The emulated bench's TCP ports (control channel, SCPI load, receipt printer) stop by
hanging up: a client idle on its connection learns at once that the bench is gone, every
serving thread has ended when `stop` returns, and the port takes no new client."""

from __future__ import annotations

import socket
import threading

import pytest

from rig.sim.tcp_listener import TcpListener


def test_stop_hangs_up_on_an_idle_client_and_ends_every_thread() -> None:
    served = threading.Event()
    serving: list[threading.Thread] = []

    def echo(conn: socket.socket) -> None:
        serving.append(threading.current_thread())
        served.set()
        while data := conn.recv(64):
            conn.sendall(data)

    listener = TcpListener(echo, name="test-echo")
    listener.start()
    client = socket.create_connection(listener.address, timeout=10)
    client.sendall(b"ping")
    assert client.recv(4) == b"ping"
    assert served.wait(10)
    listener.stop()
    assert not any(t.is_alive() for t in serving)  # joined, not left to a poll interval
    assert client.recv(64) == b""  # the bench hung up
    client.close()
    with pytest.raises(OSError):
        socket.create_connection(listener.address, timeout=1)
    listener.stop()  # idempotent


def test_a_listener_never_started_stops_cleanly() -> None:
    listener = TcpListener(lambda conn: None)
    listener.stop()
    with pytest.raises(OSError):
        socket.create_connection(listener.address, timeout=1)
