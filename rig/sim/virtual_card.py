"""The virtual IC card: any card format's `VirtualCardApp` (rig.card_formats.interface)
served to pcscd through a virtual reader driver: rig's own (native/pcsc-vreader) or
vsmartcard's vpcd, whichever rig/sim/vpcd.py picked; both speak the same wire format.

The rig then reaches the card only through pyscard, exactly like a real card in a real writer.
Wire format: each message is a 2-byte big-endian length + payload; a 1-byte payload is a
control code (00 power off, 01 power on, 02 reset, 04 get ATR), anything else is a C-APDU.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from rig.card.atr import RIGPP_ATR, make_atr
from rig.card_formats.interface import VirtualCardApp
from rig.card_formats.registry import DEFAULT, card_format
from rig.errors import CardError, ConfigError
from rig.sim.vpcd import VpcdSlot, wait_until_reader_empty

VPCD_POWER_OFF = 0x00
VPCD_POWER_ON = 0x01
VPCD_RESET = 0x02
VPCD_GET_ATR = 0x04


DEFAULT_ATR = RIGPP_ATR  # a RIGPP card's; a VirtualCard takes its app's own


__all__ = ["DEFAULT_ATR", "VirtualCard", "VpcdLink", "make_atr"]


class VirtualCard:
    """A card = its application (of card format ``format_name``) + its ATR (the app's own
    unless given). The application's own lock makes each APDU, reset and snapshot atomic, so
    any number of terminals can share the card."""

    def __init__(self, app: VirtualCardApp, atr: bytes | None = None, *,
                 format_name: str = DEFAULT) -> None:
        self.app = app
        self.atr = bytes(app.atr if atr is None else atr)
        self.format_name = format_name

    def power(self) -> None:
        self.app.reset()

    def process(self, apdu: bytes) -> bytes:
        return self.app.process(apdu)

    # --- persistence: the card survives a `rig sim` restart --------------------------------

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the card memory as JSON, atomically (temp file + rename) and readable by the
        owner only: the file holds the card's keys, like the card itself."""
        target = Path(path)
        data = {"format": 1, "card_format": self.format_name, "atr": self.atr.hex(),
                "card": self.app.to_dict()}
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=1)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> VirtualCard:
        """Read a card saved by `save` (its card format's ``card_from_dict`` rebuilds it; a
        file without a format name is a RIGPP card); CardError naming the file and the
        problem."""
        p = Path(path)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
            if data.get("format") != 1:
                raise ValueError(f"unknown format {data.get('format')!r}")
            name = str(data.get("card_format", DEFAULT))
            fmt = card_format(name, where=f"virtual card file {p}: card_format")
            return cls(fmt.card_from_dict(data["card"]), bytes.fromhex(data["atr"]),
                       format_name=name)
        except ConfigError as exc:
            raise CardError(str(exc)) from None
        except OSError as exc:
            raise CardError(f"virtual card file {p}: cannot read ({exc.strerror})") from None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CardError(f"virtual card file {p}: not a saved card ({exc})") from None


_QUICKACK = getattr(socket, "TCP_QUICKACK", None)  # Linux only


def _frames(sock: socket.socket) -> Iterator[bytes]:
    """vpcd messages (2-byte big-endian length + payload) as they arrive; ends at EOF.

    Debian's vpcd (0.8) sends the length and the payload with two ``send`` calls on a socket
    without TCP_NODELAY, so the payload waits in vpcd's kernel until the card has acknowledged
    the length: every message arrives in two reads. Linux acknowledges at once, when the length
    is read, only outside delayed-ACK ("pingpong") mode, which the card re-enters with every
    reply; so TCP_QUICKACK is re-armed before reading the start of each message (≈40 ms a
    message without). Mid-message reads need no re-arm: the card has sent nothing since.
    """
    pending = b""  # the start of a message not yet complete
    recv = sock.recv
    while True:
        if not pending and _QUICKACK is not None:
            try:  # noqa: SIM105 -- per APDU; contextlib.suppress would double the cost
                sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
            except OSError:
                pass  # a closed socket: the recv below ends the loop
        chunk = recv(65538)
        if not chunk:
            return
        data = pending + chunk if pending else chunk
        start, n = 0, len(data)
        while n - start >= 2:
            end = start + 2 + ((data[start] << 8) | data[start + 1])
            if end > n:
                break
            yield data[start + 2:end]
            start = end
        pending = data[start:] if start else data


class VpcdLink:
    """Inserting the virtual card = connecting to its reader's port; removing it = closing
    the socket. rig's own reader tells pcscd of either at once; vpcd's is seen at pcscd's
    next presence poll (up to 400 ms)."""

    def __init__(self, card: VirtualCard, slot: VpcdSlot, host: str = "127.0.0.1") -> None:
        self.card = card
        self.slot = slot
        self.host = host
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._state_lock = threading.Lock()
        self.error: BaseException | None = None  # last unexpected failure of the serve thread

    @property
    def inserted(self) -> bool:
        t = self._thread
        return t is not None and t.is_alive()

    def insert(self, timeout: float = 5.0) -> None:
        """Connect to the reader and serve the card in a daemon thread; returns once
        connected."""
        with self._state_lock:
            if self.inserted:
                return
            # A card put back before pcscd noticed it was gone would land in a reader still
            # holding the old, powered session, and its first APDU would fail (vpcd; rig's
            # own reader reports the removal first anyway, and pcscd sees it within
            # milliseconds, so this wait costs one status request there).
            wait_until_reader_empty(self.slot.reader_name)
            try:
                sock = socket.create_connection((self.host, self.slot.port), timeout=timeout)
            except OSError as exc:
                raise CardError(f"cannot insert virtual card into {self.slot.reader_name!r}: "
                                f"reader port {self.host}:{self.slot.port} unreachable "
                                f"({exc})") from None
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sock = sock
            self.error = None
            self._thread = threading.Thread(
                target=self._serve, args=(sock,), daemon=True,
                name=f"vicc-{self.slot.reader_name}")
            self._thread.start()

    def remove(self, *, until_seen: bool = True) -> None:
        """Pull the card: close the socket, join, and (``until_seen``) return once pcscd
        reports the reader empty, so that whoever asks PC/SC next (a writer waiting for a
        card, a relay) finds the card gone rather than pcscd's still-powered session of it.
        A bench that is stopping passes False: the next insert into the slot waits anyway."""
        with self._state_lock:
            sock, self._sock = self._sock, None
            thread, self._thread = self._thread, None
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            if thread is not None:
                thread.join(timeout=5)
            if sock is not None and until_seen:
                wait_until_reader_empty(self.slot.reader_name)

    def __enter__(self) -> VpcdLink:
        self.insert()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.remove(until_seen=exc is None)

    def _serve(self, sock: socket.socket) -> None:
        handle, send = self._handle, sock.sendall
        try:
            for payload in _frames(sock):
                reply = handle(payload)
                if reply is not None:
                    send(len(reply).to_bytes(2, "big") + reply)  # one segment, TCP_NODELAY
        except OSError:
            return  # socket closed by remove() or by pcscd: the card is out
        except BaseException as exc:
            self.error = exc

    def _handle(self, payload: bytes) -> bytes | None:
        if len(payload) == 1:
            code = payload[0]
            if code == VPCD_GET_ATR:
                return self.card.atr
            if code in (VPCD_POWER_OFF, VPCD_POWER_ON, VPCD_RESET):
                self.card.power()
            return None
        return self.card.process(payload)
