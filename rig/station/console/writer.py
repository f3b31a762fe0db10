"""The station's card writer as the console uses it: the vending PC owns the PC/SC reader.

The console never touches keys or APDUs; it asks the station process (this module, around
:class:`rig.station.vending_station.VendingStation`) to write a vend, personalise a card or read
a readback, and gets back either a result or a :class:`WriteProblem` phrased for the cashier.
One lock serialises use of the reader: two browser tabs cannot write at once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from rig.billing.centre.facade import BillingCentre
from rig.billing.types import ReconciliationResult, VendResult
from rig.card.apdu import CardRemovedError, NoCardError, NoReaderError
from rig.card.keys import MasterKey
from rig.card.pcsc import PcscConnection, PcscReader
from rig.errors import CardError
from rig.station.vending_station import VendingStation


class WriteProblem(Exception):
    """The card operation did not happen; ``retry`` says whether trying again can help."""

    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


class CardWriter(Protocol):
    """What the console needs from the station's card writer."""

    reader_name: str

    def write_vend(self, vend: VendResult) -> None: ...

    def personalise(self, card_serial: str, meter_no: str, key_revision: int) -> None: ...

    def upload_readback(self) -> ReconciliationResult: ...


class PcscCardWriter:
    """The card writer on a PC/SC reader (real, or the emulated bench's vpcd reader)."""

    def __init__(self, centre: BillingCentre, master_key: MasterKey, reader: str, *,
                 card_wait_s: float = 2.0) -> None:
        self.reader_name = reader
        self._station = VendingStation(centre, master_key)
        self._wait = card_wait_s
        self._lock = threading.Lock()

    @contextmanager
    def _card(self) -> Iterator[PcscConnection]:
        with self._lock:
            try:
                reader = PcscReader(self.reader_name)
                conn = reader.wait_for_card(self._wait)
            except NoReaderError:
                raise WriteProblem(f"The card reader “{self.reader_name}” is not connected. "
                                   "Check its cable, then retry.", retry=True) from None
            except NoCardError:
                raise WriteProblem("No card in the reader — put the customer's card in the "
                                   "reader and retry.", retry=True) from None
            with conn:
                try:
                    yield conn
                except CardRemovedError:
                    raise WriteProblem("Card removed — retry: put the card back in the reader "
                                       "and press the button again.", retry=True) from None
                except CardError as e:
                    raise WriteProblem(f"The card was refused: {e}", retry=False) from None

    def write_vend(self, vend: VendResult) -> None:
        with self._card() as conn:
            self._station.write_vend(conn, vend)

    def personalise(self, card_serial: str, meter_no: str, key_revision: int) -> None:
        with self._card() as conn:
            self._station.personalise(conn, card_serial=card_serial, meter_no=meter_no,
                                      key_revision=key_revision)

    def upload_readback(self) -> ReconciliationResult:
        with self._card() as conn:
            return self._station.upload_readback(conn).reconciliation
