"""The station's card writer as the console uses it: the vending PC owns the PC/SC reader.

The console never touches keys or APDUs; it asks the station process (this module, around
:class:`rig.station.vending_station.VendingStation`) to write a vend, personalise a card or read
a readback, and gets back either a result or a :class:`WriteProblem` phrased for the cashier.
The card format is the meter's (its profile's ``[card] format``), never assumed: a station
sells RIGPP and memory-card meters alike.
One lock serialises use of the reader: two browser tabs cannot write at once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from rig.billing.centre.facade import BillingCentre
from rig.billing.types import ReconciliationResult, VendResult
from rig.card.apdu import CardRemovedError, NoCardError, NoReaderError
from rig.card.keys import MasterKey
from rig.card.pcsc import PcscConnection, PcscReader
from rig.card_formats.registry import DEFAULT, card_format, check_options, names
from rig.errors import CardError, ConfigError, RigError
from rig.profile import load_profile
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
    """The card writer on a PC/SC reader (real, or the emulated bench's vpcd reader). Each
    card is written in the card format of its meter's profile, as the centre registered it
    (``profiles_dir``: the lab's own profiles besides rig's), through this station's writer
    options (``card_options``, e.g. ``{"dialect": "omnikey", "issue_dialect": "acs"}``; each
    format gets the ones it has, overlaid on its profile's)."""

    def __init__(self, centre: BillingCentre, master_key: MasterKey, reader: str, *,
                 card_wait_s: float = 2.0, profiles_dir: Path | None = None,
                 card_options: Mapping[str, str] | None = None) -> None:
        self.reader_name = reader
        self._centre, self._keys = centre, master_key
        self._profiles_dir = profiles_dir
        self._options = dict(card_options or {})
        offered = {name for f in names() for name in card_format(f).options}
        unknown = sorted(set(self._options) - offered)
        if unknown:
            raise ConfigError(f"card writer {reader!r}: no installed card format has the "
                              f"option {', '.join(unknown)} (theirs: {', '.join(sorted(offered))})")
        self._stations: dict[tuple[str, tuple[tuple[str, str], ...]], VendingStation] = {}
        self._wait = card_wait_s
        self._lock = threading.Lock()

    def _station(self, format_name: str,
                 profile_options: Mapping[str, str] | None = None) -> VendingStation:
        """The vending station writing ``format_name`` cards with the profile's options and
        this station's (one per format and options, kept)."""
        fmt = card_format(format_name)
        options = {**(profile_options or {}),
                   **{k: v for k, v in self._options.items() if k in fmt.options}}
        check_options(fmt, options, where=f"card writer {self.reader_name!r} options")
        key = (fmt.name, tuple(sorted(options.items())))
        if key not in self._stations:
            self._stations[key] = VendingStation(self._centre, self._keys, fmt=fmt,
                                                 options=options)
        return self._stations[key]

    def station_for(self, meter_no: str) -> VendingStation:
        """The station writing ``meter_no``'s cards: its profile's card format and options."""
        try:
            profile = self._centre.meter(meter_no).profile
            card = load_profile(profile, self._profiles_dir).card
            return self._station(card.format, card.options)
        except RigError as e:
            raise WriteProblem(f"This station cannot tell how to write meter {meter_no}'s "
                               f"card: {e}", retry=False) from None

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
        station = self.station_for(vend.meter_no)
        with self._card() as conn:
            station.write_vend(conn, vend)

    def personalise(self, card_serial: str, meter_no: str, key_revision: int) -> None:
        station = self.station_for(meter_no)
        with self._card() as conn:
            station.personalise(conn, card_serial=card_serial, meter_no=meter_no,
                                key_revision=key_revision)

    def upload_readback(self) -> ReconciliationResult:
        with self._card() as conn:
            return self.station_for(self._card_meter(conn)).upload_readback(conn).reconciliation

    def _card_meter(self, conn: PcscConnection) -> str:
        """The meter the card in the reader is bound to: the first installed card format
        (those this station wrote first) whose writer reads its identity."""
        used = [name for name, _ in self._stations]
        tried: list[str] = []
        for name in dict.fromkeys([*used, DEFAULT, *names()]):
            tried.append(name)
            try:
                return self._station(name).writer.identify(conn).meter_no
            except CardRemovedError:
                raise
            except CardError:
                continue
        raise WriteProblem(f"The card in the reader is not one this station can read (card "
                           f"formats tried: {', '.join(tried)}).", retry=False)
