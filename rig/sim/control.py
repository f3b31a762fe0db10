"""The emulated bench's control channel: the two sim-only channels, courier and clock.

Everything else the rig reaches through real OS interfaces. The card courier stands in for
the hand (or card actuator) that moves the card between writer and meter, and the clock
lets the rig compute the same accelerated bench time. JSON lines over loopback TCP, so a
bench started by `rig sim` in another process is driven the same way as an in-process one.

Its port is a `TcpListener` (rig/sim/tcp_listener.py): a bench stops at once.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from typing import Any

from rig.sim.tcp_listener import TcpListener

Handler = Callable[[dict[str, Any]], dict[str, Any]]


class ControlServer:
    """Serve `handler(request) -> reply` for each JSON line received."""

    def __init__(self, handler: Handler, host: str = "127.0.0.1", port: int = 0) -> None:
        self._handler = handler
        self._listener = TcpListener(self._serve, host, port, name="sim-control")
        self.address = self._listener.address

    @property
    def url(self) -> str:
        host, port = self.address[0], self.address[1]
        return f"tcp://{host}:{port}"

    def start(self) -> None:
        self._listener.start()

    def stop(self) -> None:
        """Stop accepting and hang up on every client (a client's request may be the one
        stopping the bench, so client threads end on their own); idempotent."""
        self._listener.stop(join_clients=False)

    def _serve(self, conn: socket.socket) -> None:
        with conn.makefile("rwb") as stream:
            for line in stream:
                try:
                    request = json.loads(line)
                    reply = self._handler(request)
                except Exception as e:  # reported to the caller, never kills the bench
                    reply = {"ok": False, "error": f"{type(e).__name__}: {e}"}
                stream.write(json.dumps(reply).encode() + b"\n")
                stream.flush()
