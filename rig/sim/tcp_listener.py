"""A TCP port of the emulated bench: accept in a thread, serve each client in its own, stop
at once.

The accept loop blocks in ``accept()`` and `stop` wakes it by shutting the listening socket
down, then hangs up on every client, so a bench stops without waiting out a poll interval
(socketserver's ``serve_forever`` polls every 0.5 s: it cost every bench stop up to that).
The control channel, the SCPI load and the receipt printer all listen through it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable

Serve = Callable[[socket.socket], None]


class TcpListener:
    """Listen on (host, port) and run `serve(conn)` per client; the connection is closed
    after it returns. `port` 0 takes a free one (see `address`)."""

    def __init__(self, serve: Serve, host: str = "127.0.0.1", port: int = 0, *,
                 name: str = "sim-tcp") -> None:
        self._serve = serve
        self._name = name
        self._listener = socket.create_server((host, port))  # SO_REUSEADDR on POSIX
        self.address: tuple[str, int] = self._listener.getsockname()[:2]
        self._clients: dict[socket.socket, threading.Thread] = {}
        self._lock = threading.Lock()
        self._stopped = False
        self._thread = threading.Thread(target=self._accept_loop, name=name, daemon=True)

    @property
    def port(self) -> int:
        return self.address[1]

    def start(self) -> None:
        self._thread.start()

    def stop(self, *, join_clients: bool = True) -> None:
        """Stop accepting, hang up on every client and join the threads; idempotent.

        `join_clients` False leaves client threads to end on their own (a client's request
        may be the one stopping the bench)."""
        with self._lock:
            self._stopped = True
            clients = dict(self._clients)
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._listener.close()
        for conn in clients:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)  # wakes the client's blocked recv()
        current = threading.current_thread()
        threads = [self._thread, *(clients.values() if join_clients else ())]
        for thread in threads:
            if thread.is_alive() and thread is not current:
                thread.join(timeout=5)

    def _accept_loop(self) -> None:
        while True:
            try:
                conn, peer = self._listener.accept()
            except OSError:
                return  # stop() shut the listener down
            thread = threading.Thread(target=self._run, args=(conn,), daemon=True,
                                      name=f"{self._name}-client-{peer[1]}")
            with self._lock:
                if self._stopped:
                    conn.close()
                    return
                self._clients[conn] = thread
            thread.start()

    def _run(self, conn: socket.socket) -> None:
        try:
            with conn:
                self._serve(conn)
        except OSError:
            pass  # the client hung up, or stop() did
        finally:
            with self._lock:
                self._clients.pop(conn, None)
