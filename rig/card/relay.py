"""The card writer of a bench on another machine: its PC/SC reader relayed over TCP.

pcsc-lite has no network mode, and a card writer is a USB reader on the bench host. The
bench host runs a relay (`CardRelay`) beside its labgrid exporter: it opens the reader with
pyscard and answers one client at a time with JSON lines (`rigcard://HOST:PORT`). The client
(`RelayReader`) is a drop-in for `rig.card.pcsc.PcscReader`, so the rig on a CI runner writes
and reads the card exactly as on a local bench. A client that goes away (its job killed, its
network gone) gets the card powered down at once: the relay closes the connection with it.
APDUs are never logged (card personalisation carries key material).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from types import TracebackType
from typing import Any

from rig.card.apdu import CardRemovedError, NoCardError, NoReaderError, describe
from rig.card.jsonlines import JsonLineServer
from rig.card.pcsc import PcscConnection, PcscReader
from rig.errors import CardError

SCHEME = "rigcard://"
_ERRORS: dict[str, type[CardError]] = {"removed": CardRemovedError, "no_card": NoCardError,
                                       "no_reader": NoReaderError, "card": CardError}


def _kind(e: CardError) -> str:
    for kind, cls in _ERRORS.items():
        if type(e) is cls:
            return kind
    return "card"


class _Session:
    """One client's use of the reader: at most one powered card connection, powered down
    when the client leaves."""

    def __init__(self, reader: PcscReader) -> None:
        self.reader = reader
        self.conn: PcscConnection | None = None

    def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            conn.close()

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            return {"ok": True, **self._do(request)}
        except CardError as e:
            return {"ok": False, "kind": _kind(e), "error": str(e)}

    def _do(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        if op == "hello":
            return {"reader": self.reader.name}
        if op == "present":
            return {"present": self.reader.card_present()}
        if op == "connect":
            self.close()
            self.conn = self.reader.wait_for_card(float(request["timeout"]))
            return {"atr": self.conn.atr.hex()}
        if op == "transmit":
            if self.conn is None:
                raise CardError(f"{self.reader.name}: no card connection")
            apdu = bytes.fromhex(str(request["apdu"]))
            return {"response": self.conn.transmit_named(apdu, str(request["name"])).hex()}
        if op == "disconnect":
            self.close()
            return {}
        if op == "wait_removal":
            self.reader.wait_for_removal(float(request["timeout"]))
            return {}
        raise ValueError(f"unknown op {op!r}")


class CardRelay:
    """Serve the PC/SC reader `reader` on `host:port` (port 0: any free one) to one client at
    a time; a second client waits until the first has gone."""

    def __init__(self, reader: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.reader = PcscReader(reader)
        self._server = JsonLineServer(lambda: _Session(self.reader), host, port,
                                      name="card-relay")

    @property
    def url(self) -> str:
        host, port = self._server.address
        return f"{SCHEME}{host}:{port}"

    def start(self) -> CardRelay:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()


class _Link:
    """The client's TCP connection to a relay; every failure is a CardError naming the URL."""

    def __init__(self, url: str, timeout: float) -> None:
        host, _, port = url.removeprefix(SCHEME).rpartition(":")
        if not url.startswith(SCHEME) or not host or not port.isdigit():
            raise NoReaderError(f"card relay address must look like {SCHEME}HOST:PORT, "
                                f"got {url!r}")
        self.url = url
        self.timeout = timeout
        try:
            self._sock = socket.create_connection((host, int(port)), timeout=timeout)
        except OSError as e:
            raise NoReaderError(f"card relay {url} not reachable: {e}") from None
        self._file = self._sock.makefile("rwb")
        self._lock = threading.Lock()

    def call(self, op: str, wait: float = 0.0, **params: Any) -> dict[str, Any]:
        with self._lock:
            try:
                self._sock.settimeout(self.timeout + wait)
                self._file.write(json.dumps({"op": op, **params}).encode() + b"\n")
                self._file.flush()
                line = self._file.readline()
            except OSError as e:
                raise CardError(f"card relay {self.url}: {op} failed: {e}") from None
        if not line:
            raise CardError(f"card relay {self.url} closed the connection during {op}")
        reply: dict[str, Any] = json.loads(line)
        if not reply.get("ok"):
            raise _ERRORS.get(str(reply.get("kind")), CardError)(str(reply.get("error")))
        return reply

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
            self._sock.close()


class RelayConnection:
    """A powered card behind a relay: the same transport and context manager as
    `PcscConnection`; leaving it powers the card down."""

    def __init__(self, link: _Link, reader: str, atr: bytes) -> None:
        self._link: _Link | None = link
        self.reader = self.name = reader
        self._atr = atr

    @property
    def atr(self) -> bytes:
        return self._atr

    def transmit(self, apdu: bytes) -> bytes:
        return self.transmit_named(apdu, describe(apdu))

    def transmit_named(self, apdu: bytes, name: str) -> bytes:
        if self._link is None:
            raise CardError(f"{self.reader}: {name}: connection already closed")
        return bytes.fromhex(self._link.call("transmit", apdu=apdu.hex(), name=name)["response"])

    def close(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            with contextlib.suppress(CardError):
                link.call("disconnect")

    def __enter__(self) -> RelayConnection:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class RelayReader:
    """A drop-in for `PcscReader` whose reader sits on a bench host behind a `CardRelay`."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self._link = _Link(url, timeout)
        self.remote_name = str(self._link.call("hello")["reader"])
        self.name = f"{self.remote_name} via {url}"

    def __repr__(self) -> str:
        return f"RelayReader({self.name!r})"

    def card_present(self) -> bool:
        return bool(self._link.call("present")["present"])

    def wait_for_card(self, timeout: float) -> RelayConnection:
        reply = self._link.call("connect", wait=timeout, timeout=timeout)
        return RelayConnection(self._link, self.name, bytes.fromhex(reply["atr"]))

    def wait_for_removal(self, timeout: float) -> None:
        self._link.call("wait_removal", wait=timeout, timeout=timeout)

    def close(self) -> None:
        self._link.close()
