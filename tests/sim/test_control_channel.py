"""The emulated bench's control channel: JSON lines in and out, and a stop that hangs up.

A `rig sim` client (another process driving courier and clock) must learn at once that the
bench is gone: stop closes every client connection and the listener, and returns with no
thread left behind.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

import pytest

from rig.bench.control import ControlClient
from rig.errors import RigError
from rig.sim.control import ControlServer


def _echo(request: dict[str, Any]) -> dict[str, Any]:
    if request.get("op") == "boom":
        raise ValueError("no such thing")
    return {"ok": True, "got": request}


def test_requests_and_errors_round_trip() -> None:
    server = ControlServer(_echo)
    server.start()
    try:
        client = ControlClient(server.url, timeout=5)
        assert client.call("hello", x=1)["got"] == {"op": "hello", "x": 1}
        with pytest.raises(RigError, match="ValueError: no such thing"):
            client.call("boom")
        assert client.call("again")["ok"]  # an error never kills the connection
        client.close()
    finally:
        server.stop()


def test_stop_hangs_up_on_clients_and_leaves_no_thread() -> None:
    server = ControlServer(_echo)
    server.start()
    client = ControlClient(server.url, timeout=5)
    assert client.call("hello")["ok"]
    server.stop()
    with pytest.raises(RigError, match="closed its control channel"):
        client.call("hello")
    client.close()
    assert not any(t.name == "sim-control" and t.is_alive() for t in threading.enumerate())
    host, port = server.address[0], server.address[1]
    with pytest.raises(OSError):
        socket.create_connection((host, port), timeout=1).close()
    server.stop()  # idempotent
