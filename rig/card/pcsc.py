"""PC/SC card writer access, only through pyscard (real readers and vsmartcard's vpcd alike).

Every failure is turned into a `CardError` subclass naming the reader (and the APDU), so a bench
log says which slot failed and what it was doing.
"""

from __future__ import annotations

import contextlib
import re
import time
from types import TracebackType

from smartcard import scard as S
from smartcard.CardConnection import CardConnection
from smartcard.CardRequest import CardRequest
from smartcard.Exceptions import (
    CardRequestTimeoutException,
    SmartcardException,
)
from smartcard.pcsc.PCSCCardConnection import translateprotocolheader
from smartcard.System import readers as _system_readers

from rig.card.apdu import CardRemovedError, NoCardError, NoReaderError, describe
from rig.errors import CardError


def list_readers() -> list[str]:
    """Names of the PC/SC readers present; NoReaderError if the PC/SC service is unreachable."""
    try:
        return [str(r) for r in _system_readers()]
    except SmartcardException as exc:
        raise NoReaderError(f"PC/SC service not reachable (is pcscd running?): {exc}") from None


def _card_present(reader: str) -> bool:
    """Ask pcscd (non-blocking) whether a card sits in ``reader``."""
    hresult, ctx = S.SCardEstablishContext(S.SCARD_SCOPE_USER)
    if hresult != S.SCARD_S_SUCCESS:
        return False
    try:
        hresult, states = S.SCardGetStatusChange(ctx, 0, [(reader, S.SCARD_STATE_UNAWARE)])
        if hresult != S.SCARD_S_SUCCESS:
            return False
        return bool(states[0][1] & S.SCARD_STATE_PRESENT)
    finally:
        S.SCardReleaseContext(ctx)


# hresults that mean "the card is not there any more" without asking again.
_GONE = frozenset(
    (S.SCARD_W_REMOVED_CARD, S.SCARD_E_NO_SMARTCARD, S.SCARD_W_UNPOWERED_CARD)
)


def _card_gone(reader: str, settle: float) -> bool:
    """True once the reader reports no card within ``settle`` s (pcscd polls the slot, so a
    failed transmit can be seen a few ms before the removal event)."""
    deadline = time.monotonic() + settle
    while True:
        if not _card_present(reader):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


class PcscConnection:
    """An open connection to the card in one reader: an `ApduTransport` and a context manager.

    Leaving the ``with`` block by any path powers the card down and disconnects (safe state).
    """

    def __init__(self, reader: str, connection: CardConnection, keepalive: object = None) -> None:
        self.reader = reader
        self.name = reader
        self._conn: CardConnection | None = connection
        # pyscard's CardService disconnects its connection when garbage-collected: keep it.
        self._keepalive = keepalive
        # APDUs go straight to pyscard's SCardTransmit binding: CardConnection.transmit adds
        # observer events and list copies worth ~10 µs an APDU, a fifth of a round trip
        # through pcscd and vpcd (bench/apdu_rtt.py). Decorators wrap the PC/SC connection.
        inner = connection
        while hasattr(inner, "component"):
            inner = inner.component
        self._hcard = inner.hcard
        self._pci = translateprotocolheader(connection.getProtocol())
        if not self._hcard or not self._pci:
            raise CardError(f"{reader}: connection not established (protocol "
                            f"{connection.getProtocol()!r})")

    @property
    def atr(self) -> bytes:
        if self._conn is None:
            raise CardError(f"{self.reader}: connection already closed")
        return bytes(self._conn.getATR())

    def transmit(self, apdu: bytes) -> bytes:
        return self.transmit_named(apdu, describe(apdu))

    def transmit_named(self, apdu: bytes, name: str) -> bytes:
        """Transmit; a vanished card raises CardRemovedError naming reader and APDU."""
        if self._conn is None:
            raise CardError(f"{self.reader}: {name}: connection already closed")
        hresult, response = S.SCardTransmit(self._hcard, self._pci, list(apdu))
        if hresult != S.SCARD_S_SUCCESS:
            if hresult in _GONE or _card_gone(self.reader, settle=0.5):
                raise CardRemovedError(f"{self.reader}: card removed during {name}")
            raise CardError(f"{self.reader}: {name} failed: "
                            f"{S.SCardGetErrorMessage(hresult)}")
        if len(response) < 2:
            raise CardError(f"{self.reader}: {name}: card returned {len(response)} bytes, "
                            "no status word")
        return bytes(response)

    def close(self) -> None:
        """Power the card down and release the reader; idempotent and never raises."""
        conn, self._conn = self._conn, None
        self._keepalive = None
        if conn is None:
            return
        # pyscard's default disposition is SCARD_UNPOWER_CARD; a card already gone has
        # nothing left to power down, and releasing a dead context must not mask the cause.
        with contextlib.suppress(SmartcardException):
            conn.disconnect()
        with contextlib.suppress(Exception):
            conn.release()

    def __enter__(self) -> PcscConnection:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class PcscReader:
    """One PC/SC reader, chosen by exact name or else by a regex (`re.search`)."""

    def __init__(self, name_or_pattern: str) -> None:
        present = list_readers()
        if name_or_pattern in present:
            self.name = name_or_pattern
            return
        try:
            matches = [r for r in present if re.search(name_or_pattern, r)]
        except re.error:
            matches = []
        if not matches:
            raise NoReaderError(f"no PC/SC reader matches {name_or_pattern!r}; readers present: "
                                f"{present or 'none'}")
        if len(matches) > 1:
            raise NoReaderError(f"reader pattern {name_or_pattern!r} is ambiguous, it matches "
                                f"{matches}; give the exact name")
        self.name = matches[0]

    def __repr__(self) -> str:
        return f"PcscReader({self.name!r})"

    def card_present(self) -> bool:
        return _card_present(self.name)

    def wait_for_card(self, timeout: float) -> PcscConnection:
        """Wait up to ``timeout`` s for a card, connect (T=0 or T=1) and return the connection.

        A card that was just re-inserted can look present before the reader has powered it
        (the service polls presence), so a failed connect is retried until the deadline.
        """
        deadline = time.monotonic() + timeout
        last_error = ""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                if last_error:
                    raise NoCardError(f"card in {self.name!r} did not answer to reset within "
                                      f"{timeout:g} s: {last_error}")
                raise NoCardError(f"no card in reader {self.name!r} within {timeout:g} s")
            try:
                request = CardRequest(readers=[self.name], timeout=max(left, 0.05),
                                      newcardonly=False)
                service = request.waitforcard()
            except CardRequestTimeoutException:
                continue
            except SmartcardException as exc:
                raise NoCardError(f"waiting for a card in {self.name!r} failed: {exc}") from None
            conn = service.connection
            try:
                conn.connect()
            except SmartcardException as exc:
                with contextlib.suppress(Exception):
                    conn.release()
                last_error = str(exc)
                time.sleep(0.02)
                continue
            return PcscConnection(self.name, conn, keepalive=service)

    def wait_for_removal(self, timeout: float) -> None:
        """Block until the reader is empty; CardError if the card is still there at timeout."""
        hresult, ctx = S.SCardEstablishContext(S.SCARD_SCOPE_USER)
        if hresult != S.SCARD_S_SUCCESS:
            raise NoReaderError(f"PC/SC service not reachable: {S.SCardGetErrorMessage(hresult)}")
        try:
            deadline = time.monotonic() + timeout
            state = S.SCARD_STATE_UNAWARE
            while True:
                remaining_ms = max(0, int((deadline - time.monotonic()) * 1000))
                hresult, states = S.SCardGetStatusChange(ctx, remaining_ms, [(self.name, state)])
                if hresult == S.SCARD_E_TIMEOUT:
                    raise CardError(f"card still in reader {self.name!r} after {timeout:g} s")
                if hresult != S.SCARD_S_SUCCESS:
                    raise NoReaderError(f"reader {self.name!r}: "
                                        f"{S.SCardGetErrorMessage(hresult)}")
                event = states[0][1]
                if not event & S.SCARD_STATE_PRESENT:
                    return
                state = event & ~S.SCARD_STATE_CHANGED
                if time.monotonic() >= deadline:
                    raise CardError(f"card still in reader {self.name!r} after {timeout:g} s")
        finally:
            S.SCardReleaseContext(ctx)
