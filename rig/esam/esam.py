"""The meter's ESAM, emulated: its keys, its purchase wallet and its remote session.

The meter's firmware asks it to check a card (internal authentication), to prove itself to a
card (external authentication), to check the purchase file's MAC and seal the return-write
file's, to credit the wallet, and — over DL/T 645 — to run an identity authentication and
check the MACs of the commands inside it. It refuses with an :class:`EsamRefusal` that the
firmware maps to its own card error code or DL/T 645 error word. The meter's rules (purchase
count below/equal/two ahead, the hoarding limit) are the firmware's; the ESAM enforces only
its own: the right key state, the right MACs, the customer it was opened for, and a purchase
count exactly one ahead.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from rig.esam import crypto
from rig.esam.commissioning import DEFAULT_IDENTITY_MINUTES
from rig.esam.keys import (
    KeyId,
    KeyService,
    KeyState,
    card_factor,
    meter_factor,
    open_package,
    public_master,
)

WALLET_MAX = 99_999_999  # cents: 999,999.99, the register's largest value
RAND2_LEN = 4


class EsamRefusal(StrEnum):
    KEY_STATE = "the card or command is keyed for the other key state"
    AUTHENTICATION = "authentication failed"
    MAC = "MAC check failed"
    IDENTITY = "identity authentication failed"
    NO_IDENTITY = "no valid identity authentication"
    CUSTOMER = "customer number differs from the opened account"
    NOT_OPENED = "the account is not opened"
    PURCHASE_COUNT = "purchase count is not exactly one ahead"
    OVERFLOW = "the wallet would overflow"
    KEY_PACKAGE = "key package refused"
    FAULT = "the ESAM failed or did not take the command"  # the meter's view of its bus


class EsamError(Exception):
    """A refusal; over the chip bus (rig.esam.link) also the refused command's header
    (CLA INS P1 P2 P3) and the ESAM's status word, for the abnormal-insertion record."""

    def __init__(self, refusal: EsamRefusal, detail: str = "", *, header: bytes = b"",
                 status_word: int = 0) -> None:
        super().__init__(f"ESAM: {refusal.value}" + (f" ({detail})" if detail else ""))
        self.refusal = refusal
        self.header = header
        self.status_word = status_word


@dataclass
class Wallet:
    """Purchases the ESAM has accepted: their count and sum (card units), and the customer
    the account was opened for (None until the first, open-account purchase)."""

    purchase_count: int = 0
    total: int = 0
    customer_no: str | None = None

    @property
    def opened(self) -> bool:
        return self.customer_no is not None


class Esam:
    """One meter's ESAM. Card slots hold masters (cards of every serial meet it), meter slots
    hold keys dispersed for this meter's number."""

    def __init__(self, meter_no: str, serial: bytes, keys: Mapping[KeyId, tuple[KeyState, bytes]],
                 *, wallet: Wallet | None = None,
                 identity_minutes: int = DEFAULT_IDENTITY_MINUTES,
                 rng: Callable[[int], bytes] = os.urandom) -> None:
        if len(serial) != 8:
            raise ValueError("an ESAM serial is 8 bytes")
        missing = set(KeyId) - set(keys)
        if missing:
            raise ValueError(f"ESAM lacks key slots {sorted(k.value for k in missing)}")
        self.meter_no = meter_no
        self.factor = meter_factor(meter_no)
        self.serial = bytes(serial)
        self._keys = dict(keys)
        self.wallet = wallet or Wallet()
        self.identity_minutes = identity_minutes
        self._rng = rng
        self._rand2: bytes | None = None  # the open identity session's random, if any
        self._identity_until: datetime | None = None

    def __repr__(self) -> str:
        return f"Esam(meter {self.meter_no}, serial {self.serial.hex()}, {self.key_state})"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("an ESAM is not picklable (its keys stay in the emulated meter)")

    @classmethod
    def manufactured(cls, meter_no: str, serial: bytes, **kwargs: Any) -> Esam:
        """As it leaves the factory: every slot holds the public test key."""
        factor = meter_factor(meter_no)
        keys = {k: (KeyState.PUBLIC, public_master(k) if k.for_cards
                    else crypto.disperse(public_master(k), factor)) for k in KeyId}
        return cls(meter_no, serial, keys, **kwargs)

    # -- keys --------------------------------------------------------------------------
    def state_of(self, key_id: KeyId) -> KeyState:
        return self._keys[key_id][0]

    @property
    def key_state(self) -> KeyState:
        """PRIVATE once every slot is; a half-updated ESAM still counts as public."""
        private = all(s is KeyState.PRIVATE for s, _ in self._keys.values())
        return KeyState.PRIVATE if private else KeyState.PUBLIC

    def _card_key(self, key_id: KeyId, card_serial: str) -> bytes:
        return crypto.disperse(self._keys[key_id][1], card_factor(card_serial))

    def _meter_key(self, key_id: KeyId) -> bytes:
        return self._keys[key_id][1]

    def install_key(self, package: bytes) -> KeyId:
        """Install a key-update package sealed under this ESAM's master-control key."""
        try:
            key_id, state, key = open_package(self._meter_key(KeyId.MASTER_CONTROL), package)
        except crypto.CryptoError as e:
            raise EsamError(EsamRefusal.KEY_PACKAGE, str(e)) from None
        self._keys[key_id] = (state, key)
        return key_id

    def check_key_state(self, key_id: KeyId, claimed: KeyState) -> None:
        """A card or command says which key state it was made under; refuse the other."""
        if self.state_of(key_id) is not claimed:
            raise EsamError(EsamRefusal.KEY_STATE, f"ESAM {self.state_of(key_id).value}, "
                            f"{key_id.value} made {claimed.value}")

    # -- a card ------------------------------------------------------------------------
    def challenge(self, length: int = 8) -> bytes:
        return self._rng(length)

    def check_card(self, card_serial: str, challenge: bytes, answer: bytes) -> None:
        """Internal authentication: the card enciphered our challenge with its key."""
        expected = crypto.cryptogram(self._card_key(KeyId.CARD_INTERNAL, card_serial), challenge)
        if answer != expected:
            raise EsamError(EsamRefusal.AUTHENTICATION, "the card's internal authentication")

    def answer_card(self, card_serial: str, card_challenge: bytes) -> bytes:
        """External authentication: our cryptogram on the card's challenge."""
        return crypto.cryptogram(self._card_key(KeyId.CARD_EXTERNAL, card_serial),
                                 card_challenge)

    def check_card_mac(self, key_id: KeyId, card_serial: str, data: bytes, iv: bytes,
                       given: bytes) -> None:
        if not crypto.mac_ok(self._card_key(key_id, card_serial), data, iv, given):
            raise EsamError(EsamRefusal.MAC, key_id.value)

    def card_mac(self, key_id: KeyId, card_serial: str, data: bytes, iv: bytes = b"") -> bytes:
        return crypto.mac(self._card_key(key_id, card_serial), data, iv)

    # -- the wallet --------------------------------------------------------------------
    def credit(self, amount: int, purchase_count: int, customer_no: str, *,
               open_account: bool = False) -> None:
        """Add one purchase. Opening binds the customer (a second opening must name the same
        one); otherwise the account must be open for this customer."""
        w = self.wallet
        if open_account:
            if w.opened and w.customer_no != customer_no:
                raise EsamError(EsamRefusal.CUSTOMER)
        elif not w.opened:
            raise EsamError(EsamRefusal.NOT_OPENED)
        elif w.customer_no != customer_no:
            raise EsamError(EsamRefusal.CUSTOMER)
        if purchase_count != w.purchase_count + 1:
            raise EsamError(EsamRefusal.PURCHASE_COUNT,
                            f"ESAM at {w.purchase_count}, purchase {purchase_count}")
        if amount < 0 or w.total + amount > WALLET_MAX:
            raise EsamError(EsamRefusal.OVERFLOW)
        w.customer_no = customer_no
        w.purchase_count = purchase_count
        w.total += amount

    def initialise_wallet(self, preset: int) -> None:
        """Wallet initialisation: count back to 0, the preset as the whole sum, unbound."""
        if not 0 <= preset <= WALLET_MAX:
            raise EsamError(EsamRefusal.OVERFLOW)
        self.wallet = Wallet(total=preset)

    # -- remote: identity authentication and the session's MACs -----------------------
    def identity_authenticate(self, cipher1: bytes, rand1: bytes, factor: bytes,
                              now: datetime) -> tuple[bytes, bytes]:
        """Check the office's cryptogram on ``rand1``; open a session valid for
        ``identity_minutes``. Returns (rand2, ESAM serial)."""
        self.end_identity()
        if factor != self.factor:
            raise EsamError(EsamRefusal.IDENTITY, "dispersion factor is not this meter's")
        expected = crypto.cryptogram(self._meter_key(KeyId.REMOTE_IDENTITY), rand1)
        if cipher1 != expected:
            raise EsamError(EsamRefusal.IDENTITY)
        self._rand2 = self._rng(RAND2_LEN)
        self._identity_until = now + timedelta(minutes=self.identity_minutes)
        return self._rand2, self.serial

    def identity_valid(self, now: datetime) -> bool:
        return self._identity_until is not None and now < self._identity_until

    def end_identity(self) -> None:
        self._rand2 = self._identity_until = None

    def _session(self, now: datetime) -> bytes:
        if self._rand2 is None or not self.identity_valid(now):
            self.end_identity()
            raise EsamError(EsamRefusal.NO_IDENTITY)
        return self._rand2

    def check_session_mac(self, key_id: KeyId, data: bytes, given: bytes, now: datetime) -> None:
        """A command inside the identity session: MAC under ``key_id`` with rand2 as IV."""
        rand2 = self._session(now)
        if not crypto.mac_ok(self._meter_key(key_id), data, rand2, given):
            raise EsamError(EsamRefusal.MAC, key_id.value)

    def session_mac(self, key_id: KeyId, data: bytes, now: datetime) -> bytes:
        """Our MAC on data we return inside the session (a read-back with MAC)."""
        return crypto.mac(self._meter_key(key_id), data, self._session(now))

    def open_sealed(self, key_id: KeyId, data: bytes) -> bytes:
        """Decipher data the office enciphered under this meter's ``key_id``."""
        try:
            return crypto.decrypt(self._meter_key(key_id), data)
        except crypto.CryptoError as e:
            raise EsamError(EsamRefusal.MAC, str(e)) from None

    # -- non-volatile image (never leaves the emulated meter) -------------------------
    def to_image(self) -> dict[str, Any]:
        w = self.wallet
        return {
            "serial": self.serial.hex(), "identity_minutes": self.identity_minutes,
            "keys": {k.value: [s.value, key.hex()] for k, (s, key) in self._keys.items()},
            "wallet": {"purchase_count": w.purchase_count, "total": w.total,
                       "customer_no": w.customer_no},
        }

    @classmethod
    def from_image(cls, meter_no: str, image: Mapping[str, Any], **kwargs: Any) -> Esam:
        esam = cls.manufactured(meter_no, bytes.fromhex(image["serial"]), **kwargs)
        esam.restore_image(image)
        return esam

    def restore_image(self, image: Mapping[str, Any]) -> None:
        """Back to a saved image, as at power-up: keys and wallet kept, the session lost."""
        self.serial = bytes.fromhex(image["serial"])
        self._keys = {KeyId(k): (KeyState(s), bytes.fromhex(key))
                      for k, (s, key) in image["keys"].items()}
        self.wallet = Wallet(**image["wallet"])
        self.identity_minutes = int(image["identity_minutes"])
        self.end_identity()


def commissioned(meter_no: str, serial: bytes, state: KeyState, service: KeyService,
                 **kwargs: Any) -> Esam:
    """A factory ESAM moved to ``state`` with key-update packages from ``service``, as a
    utility commissions a meter (master-control last: it seals the packages before it)."""
    esam = Esam.manufactured(meter_no, serial, **kwargs)
    if state is KeyState.PUBLIC:
        return esam
    for key_id in sorted(KeyId, key=lambda k: k is KeyId.MASTER_CONTROL):
        esam.install_key(service.key_package(
            key_id, state, esam.factor, sealed_with=KeyId.MASTER_CONTROL,
            sealed_state=esam.state_of(KeyId.MASTER_CONTROL), whole_master=key_id.for_cards))
    return esam
