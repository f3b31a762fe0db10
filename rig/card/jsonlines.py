"""A TCP server of JSON lines where each client connection has a session of its own.

A bench host serves two such channels per place: the card writer's relay and the emulated
bench's control channel. Both need to know when a client arrives (a new job: a fresh meter)
and when it leaves (its card powered down), which a per-request handler cannot see.
"""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Callable
from typing import Any, Protocol


class Session(Protocol):
    def handle(self, request: dict[str, Any]) -> dict[str, Any]: ...

    def close(self) -> None: ...


class JsonLineServer:
    """Serve `make_session()` to each connection; `serial=True` serves one client at a time
    (a second one waits until the first has gone)."""

    def __init__(self, make_session: Callable[[], Session], host: str = "127.0.0.1",
                 port: int = 0, *, serial: bool = True, name: str = "jsonlines") -> None:
        one_at_a_time = threading.Lock() if serial else None

        class _Conn(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                if one_at_a_time is not None:
                    one_at_a_time.acquire()
                try:
                    session = make_session()
                    try:
                        for line in self.rfile:
                            reply = _answer(session, line)
                            self.wfile.write(json.dumps(reply).encode() + b"\n")
                    finally:
                        session.close()
                finally:
                    if one_at_a_time is not None:
                        one_at_a_time.release()

        class _Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = _Server((host, port), _Conn)
        self._thread = threading.Thread(target=self._server.serve_forever, name=name,
                                        daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> JsonLineServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (also when never started); idempotent."""
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()


def _answer(session: Session, line: bytes) -> dict[str, Any]:
    """The session's reply, or {"ok": false, ...}: a bad request never ends the session."""
    try:
        return session.handle(json.loads(line))
    except Exception as e:
        return {"ok": False, "error": f"{type(e).__name__}: {e}"}
