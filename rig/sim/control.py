"""The emulated bench's control channel: the two sim-only channels, courier and clock.

Everything else the rig reaches through real OS interfaces. The card courier stands in for
the hand (or card actuator) that moves the card between writer and meter, and the clock
lets the rig compute the same accelerated bench time. JSON lines over loopback TCP, so a
bench started by `rig sim` in another process is driven the same way as an in-process one.
"""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Callable
from typing import Any

Handler = Callable[[dict[str, Any]], dict[str, Any]]


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class ControlServer:
    """Serve `handler(request) -> reply` for each JSON line received."""

    def __init__(self, handler: Handler, host: str = "127.0.0.1", port: int = 0) -> None:
        outer = self

        class _Conn(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                for line in self.rfile:
                    try:
                        request = json.loads(line)
                        reply = outer._handler(request)
                    except Exception as e:  # reported to the caller, never kills the bench
                        reply = {"ok": False, "error": f"{type(e).__name__}: {e}"}
                    self.wfile.write(json.dumps(reply).encode() + b"\n")

        self._handler = handler
        self._server = _Server((host, port), _Conn)
        self.address = self._server.server_address
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="sim-control", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.address[0], self.address[1]
        return f"tcp://{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
