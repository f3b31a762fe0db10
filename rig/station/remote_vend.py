"""Remote delivery: a vend the billing centre made, carried to an ESAM meter over DL/T 645.

The same sale as a card's (the centre stays card-agnostic): instead of writing the purchase
to a card, the office opens an identity session with the meter's ESAM through its key service
(:class:`rig.esam.keys.KeyService`: rig's :class:`LabKeyService`, or a lab's encryption
machine), reads the purse back with its MAC, writes the price file (the tariff a card would
carry) and sends open account (the first purchase) or recharge with MACs only the key service
can make; a session the meter timed out is opened again. The purse read first makes a repeated
delivery harmless: a purchase the meter already counts is not sent again. Reading the meter's
running information back with the ESAM's MAC (the State Grid layout, rig.card_formats.running_info)
gives the centre a readback it verifies itself (the record is MAC'd under the meter's readback
key, as a card's is), so the centre's reconciliation is the card path's. The status query and
the enciphered relay control are rig.station.remote_control's. Keys never leave the key
service; records name its label.

At the centre the remote account stands where a card does: its 16-digit identifier is
``0000`` + the 12-digit customer number the ESAM binds at open account.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from rig.billing.readback_format import format_for
from rig.billing.types import VendResult
from rig.errors import RigError
from rig.esam.keys import KeyId, KeyService, KeyState, meter_factor
from rig.meter.dlt645 import security as sec
from rig.meter.dlt645.client import DEFAULT_OPERATOR, Dlt645Client, SecurityRefused

T = TypeVar("T")
ACCOUNT_PREFIX = "0000"
KEY_ORDER = tuple(sorted(KeyId, key=lambda k: k is KeyId.MASTER_CONTROL))  # master last


def account_serial(customer_no: str) -> str:
    """The remote account's identifier at the centre, where a card serial stands."""
    return ACCOUNT_PREFIX + sec.customer_bytes(customer_no).hex()


def customer_of(account: str) -> str:
    """The customer number of a remote account identifier (RigError if it is not one)."""
    if len(account) != 16 or not account.startswith(ACCOUNT_PREFIX) or not account.isdigit():
        raise RigError(f"{account!r} is not a remote account (0000 + 12-digit customer number)")
    return account[len(ACCOUNT_PREFIX):]


class RemoteError(RigError):
    """A remote delivery or read-back that did not verify; the message says which check."""


@dataclass(frozen=True)
class Purse:
    remaining: int  # credit units
    purchase_count: int
    customer_no: str  # 000000000000: the account is not opened

    @property
    def opened(self) -> bool:
        return self.customer_no != "000000000000"

    @classmethod
    def parse(cls, data: bytes) -> Purse:
        if len(data) != 14:
            raise RemoteError(f"purse file: {len(data)} bytes, expected 14")
        return cls(int.from_bytes(data[:4], "big"), int.from_bytes(data[4:8], "big"),
                   sec.customer_text(data[8:]))


@dataclass(frozen=True)
class Delivered:
    """What a delivery did: the purchase applied now, or found already applied; and the
    tariff version the meter's running record shows after it."""

    sequence: int
    command: str  # "open account", "recharge" or "already applied"
    purse: Purse
    tariff_version: int

    @property
    def message(self) -> str:
        """What the delivery reports, as a meter's display would after a card."""
        if self.command == "already applied":
            return f"purchase #{self.sequence} already applied: nothing delivered"
        return (f"{self.command} over DL/T 645: purchase #{self.sequence} applied, "
                f"tariff {self.tariff_version} applied")


@dataclass
class RemoteSession:
    """One identity session with the meter's ESAM: every command's MACs under its random 2
    (``state``: the key state the office addresses the meter's keys in)."""

    client: Dlt645Client
    keys: KeyService
    state: KeyState
    factor: bytes
    rand2: bytes
    esam_serial: bytes
    operator: bytes

    def _mac(self, key_id: KeyId, data: bytes, state: KeyState | None = None) -> bytes:
        return self.keys.mac(key_id, state or self.state, self.factor, data, self.rand2)

    def read_back(self, file_no: int, length: int = 0, offset: int = 0) -> bytes:
        """A file's data, its ESAM MAC verified by the key service (RemoteError if not)."""
        reply = self.client.read_back(sec.ReadbackTarget(length, offset, file_no),
                                      operator=self.operator)
        if reply.target.file_no != file_no or reply.target.offset != offset:
            raise RemoteError(f"read-back of file {file_no:04X} answered for file "
                              f"{reply.target.file_no:04X}")
        if not self.keys.mac_ok(KeyId.REMOTE_CONTROL, self.state, self.factor,
                                reply.mac_input, self.rand2, reply.mac):
            raise RemoteError(f"read-back of file {file_no:04X}: the ESAM's MAC does not "
                              "verify (not this meter's ESAM, or the data was changed)")
        return reply.data

    def purse(self) -> Purse:
        return Purse.parse(self.read_back(sec.FILE_PURSE))

    def purchase(self, amount: int, purchase_count: int, customer_no: str, *,
                 open_account: bool) -> sec.PurchaseRequest:
        """Build and send open account or recharge; returns the request (a test replays it)."""
        draft = sec.PurchaseRequest(amount, purchase_count, bytes(4), customer_no, bytes(4))
        request = sec.PurchaseRequest(
            amount, purchase_count, self._mac(KeyId.REMOTE_CONTROL, draft.mac1_input),
            customer_no, self._mac(KeyId.REMOTE_CONTROL, draft.mac2_input))
        send = self.client.open_account if open_account else self.client.recharge
        send(request, operator=self.operator)
        return request

    def set_price(self, tariff_version: int, price_per_kwh: Decimal) -> None:
        """The price file (070004FF): the tariff the meter consumes the purchase at."""
        units = price_per_kwh * sec.PRICE_SCALE
        if units != units.to_integral_value():
            raise RemoteError(f"price {price_per_kwh}/kWh has more than 4 decimals")
        data = sec.price_file(tariff_version, int(units))
        draft = sec.PlainWriteRequest(sec.FILE_PRICE, 0, data, bytes(4))
        self.client.write_plain(sec.PlainWriteRequest(
            sec.FILE_PRICE, 0, data, self._mac(KeyId.REMOTE_PARAMETER, draft.mac_input)),
            operator=self.operator)

    def initialise_wallet(self, preset: int) -> None:
        draft = sec.WalletInitRequest(preset, bytes(4), 0, bytes(4))
        self.client.initialise_wallet(sec.WalletInitRequest(
            preset, self._mac(KeyId.REMOTE_CONTROL, draft.mac1_input), 0,
            self._mac(KeyId.REMOTE_CONTROL, draft.mac2_input)), operator=self.operator)

    def set_identity_validity(self, minutes: int) -> None:
        draft = sec.ValidityRequest(minutes, bytes(4))
        self.client.set_identity_validity(sec.ValidityRequest(
            minutes, self._mac(KeyId.REMOTE_PARAMETER, draft.mac_input)),
            operator=self.operator)

    def update_keys(self, to: KeyState) -> None:
        """Move every key of the meter to ``to``: packages sealed under its current
        master-control key, four per frame, master-control itself last."""
        total = len(KEY_ORDER)
        records = [sec.KeyRecord(self.keys.key_package(
            k, to, self.factor, sealed_with=KeyId.MASTER_CONTROL, sealed_state=self.state,
            whole_master=k.for_cards), to.code, k.code, total) for k in KEY_ORDER]
        for i in range(0, total, sec.MAX_KEY_RECORDS):
            batch = tuple(records[i:i + sec.MAX_KEY_RECORDS])
            draft = sec.KeyUpdateRequest(batch, bytes(4))
            self.client.update_keys(sec.KeyUpdateRequest(
                batch, self._mac(KeyId.MASTER_CONTROL, draft.mac_input)),
                operator=self.operator)
        self.state = to

    def end(self) -> sec.InvalidationReply:
        return self.client.end_identity(operator=self.operator)


class RemoteDelivery:
    """The office's DL/T 645 delivery to one ESAM meter, through a key service."""

    def __init__(self, client: Dlt645Client, keys: KeyService, meter_no: str, *,
                 key_state: KeyState = KeyState.PUBLIC, operator: bytes = DEFAULT_OPERATOR,
                 rng: Callable[[int], bytes] = os.urandom) -> None:
        self.client = client
        self.keys = keys
        self.meter_no = meter_no
        self.key_state = key_state  # the state the office last left the meter's keys in
        self.factor = meter_factor(meter_no)
        self.operator = operator
        self._rng = rng

    def authenticate(self) -> RemoteSession:
        """Identity authentication: our cryptogram on a fresh random 1."""
        rand1 = self._rng(8)
        cipher1 = self.keys.cryptogram(KeyId.REMOTE_IDENTITY, self.key_state, self.factor,
                                       rand1)
        reply = self.client.identity_authenticate(
            sec.IdentityRequest(cipher1, rand1, self.factor), operator=self.operator)
        return RemoteSession(self.client, self.keys, self.key_state, self.factor,
                             reply.rand2, reply.esam_serial, self.operator)

    @contextmanager
    def session(self) -> Iterator[RemoteSession]:
        """An identity session, invalidated at the end however the block ends (a refused
        command leaves no session open on the meter; one that timed out is over anyway)."""
        s = self.authenticate()
        try:
            yield s
        finally:
            self.key_state = s.state
            try:
                s.end()
            except SecurityRefused as e:
                if not e.error_word & sec.SERR_IDENTITY:
                    raise

    def _retried(self, work: Callable[[], T]) -> T:
        """``work`` again in a fresh session if the meter ended the first (its identity
        validity ran out): each step of a delivery is safe to repeat."""
        try:
            return work()
        except SecurityRefused as e:
            if not e.error_word & sec.SERR_IDENTITY:
                raise
        return work()

    def deliver(self, vend: VendResult) -> Delivered:
        """Write the price file, then open account or recharge with ``vend`` (purchase count =
        its sequence); a purchase the purse already counts is left alone, so a repeated
        delivery credits nothing."""
        customer = customer_of(vend.card_serial)

        def deliver() -> Delivered:
            with self.session() as s:
                purse = s.purse()
                command = "recharge" if purse.opened else "open account"
                if purse.purchase_count >= vend.sequence:
                    command = "already applied"
                else:
                    s.set_price(vend.tariff_version, vend.price_per_kwh)  # as a card does
                    s.purchase(vend.credit, vend.sequence, customer,
                               open_account=not purse.opened)
                after = s.purse()
                record = s.read_back(sec.FILE_RUNNING)
            if after.purchase_count < vend.sequence:
                raise RemoteError(f"purchase #{vend.sequence}: the meter's purse counts "
                                  f"{after.purchase_count} after the {command}")
            tariff = int(format_for(record).fields(record)["tariff_version"])
            return Delivered(vend.sequence, command, after, tariff)

        return self._retried(deliver)

    def running_record(self) -> bytes:
        """File 0007 read back with the ESAM's MAC verified: the meter's running information
        in the State Grid layout with rig's extension and readback MAC (``esam-running-v1``,
        rig.card_formats.running_info), which the centre verifies and reconciles like a card's."""

        def read() -> bytes:
            with self.session() as s:
                return s.read_back(sec.FILE_RUNNING)

        return self._retried(read)

    def update_keys(self, to: KeyState) -> None:
        with self.session() as s:
            s.update_keys(to)
