"""The emulated bench's control channel: the two sim-only channels, courier and clock.

Everything else the rig reaches through real OS interfaces. The card courier stands in for
the hand (or card actuator) that moves the card between writer and meter, and the clock
lets the rig compute the same accelerated bench time. JSON lines over loopback TCP, so a
bench started by `rig sim` in another process is driven the same way as an in-process one.

The accept loop blocks in ``accept()`` and `stop` wakes it by shutting the listening socket
down, so a bench stops at once instead of waiting out a poll interval (socketserver's
``serve_forever`` polls every 0.5 s).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable
from typing import Any

Handler = Callable[[dict[str, Any]], dict[str, Any]]


class ControlServer:
    """Serve `handler(request) -> reply` for each JSON line received."""

    def __init__(self, handler: Handler, host: str = "127.0.0.1", port: int = 0) -> None:
        self._handler = handler
        self._listener = socket.create_server((host, port))
        self.address = self._listener.getsockname()
        self._clients: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopped = False
        self._thread = threading.Thread(target=self._accept_loop, name="sim-control",
                                        daemon=True)

    @property
    def url(self) -> str:
        host, port = self.address[0], self.address[1]
        return f"tcp://{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting, hang up on every client and join the accept loop; idempotent."""
        with self._lock:
            self._stopped = True
            clients = list(self._clients)
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._listener.close()
        for conn in clients:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _accept_loop(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return  # stop() shut the listener down
            with self._lock:
                if self._stopped:
                    conn.close()
                    return
                self._clients.add(conn)
            threading.Thread(target=self._serve, args=(conn,), name="sim-control-client",
                             daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            with conn, conn.makefile("rwb") as stream:
                for line in stream:
                    try:
                        request = json.loads(line)
                        reply = self._handler(request)
                    except Exception as e:  # reported to the caller, never kills the bench
                        reply = {"ok": False, "error": f"{type(e).__name__}: {e}"}
                    stream.write(json.dumps(reply).encode() + b"\n")
                    stream.flush()
        except OSError:
            pass  # the client hung up, or stop() did
        finally:
            with self._lock:
                self._clients.discard(conn)
