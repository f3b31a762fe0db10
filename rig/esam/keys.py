"""The ESAM's key slots, its two key states, and the vending office's key service.

A meter leaves the factory in the **public** key state: its ESAM holds the public test keys,
known to everyone, so any lab can test it. Before it goes to a customer the utility moves it to
the **private** state with key-update packages (a key-update card, or remotely over DL/T 645);
a card made under one state is refused by a meter in the other.

The office side is a :class:`KeyService` — in the field a hardware encryption machine. It is
asked for operations (a cryptogram, a MAC, a sealed key package), never for key bytes, so a lab
can put its own machine behind the same protocol. :class:`LabKeyService` is rig's software one:
public masters from published constants, private masters from the lab master key.
"""

from __future__ import annotations

import hashlib
import hmac
from enum import StrEnum
from typing import Any, Protocol

from rig.esam import crypto
from rig.esam.commissioning import KeyState

PUBLIC_KEY_SEED = b"rig ESAM public test keys (SM4 in place of SM1)"  # published: docs/esam.md
PRIVATE_KEY_LABEL = b"rig ESAM private key/"


class KeyId(StrEnum):
    """A key slot. Card keys are dispersed by the card serial, meter keys by the meter number;
    the ESAM holds the card masters (it meets cards of every serial) and its own meter keys."""

    CARD_ISSUE = "card-issue"  # seals the keys written into a card at personalisation
    CARD_INTERNAL = "card-internal"  # the card proves itself to the meter's ESAM
    CARD_EXTERNAL = "card-external"  # the ESAM proves itself to the card (opens its files)
    CARD_PURCHASE = "card-purchase"  # the office's MAC over the purchase file
    CARD_RETURN = "card-return"  # the meter's MAC over the return-write file
    REMOTE_IDENTITY = "remote-identity"  # identity authentication (DL/T 645 security)
    REMOTE_CONTROL = "remote-control"  # MACs on open account, recharge, wallet initialisation
    REMOTE_PARAMETER = "remote-parameter"  # MACs on parameter updates
    MASTER_CONTROL = "master-control"  # seals key-update packages

    @property
    def code(self) -> int:
        return list(KeyId).index(self) + 1

    @property
    def for_cards(self) -> bool:
        return self.value.startswith("card-")

    @classmethod
    def from_code(cls, code: int) -> KeyId:
        try:
            return list(cls)[code - 1]
        except IndexError:
            raise crypto.CryptoError(f"no key slot {code}") from None


def meter_factor(meter_no: str) -> bytes:
    """A meter's dispersion factor: its 12-digit number as 6 BCD bytes, left-filled to 8."""
    if len(meter_no) != 12 or not meter_no.isdigit():
        raise crypto.CryptoError(f"meter number {meter_no!r}: 12 decimal digits")
    return bytes(2) + bytes.fromhex(meter_no)


def card_factor(card_serial: str) -> bytes:
    """A card's dispersion factor: its 8-byte serial (16 hex digits)."""
    try:
        raw = bytes.fromhex(card_serial)
    except ValueError:
        raw = b""
    if len(raw) != crypto.FACTOR_LEN:
        raise crypto.CryptoError(f"card serial {card_serial!r}: 16 hex digits")
    return raw


def public_master(key_id: KeyId) -> bytes:
    """A public-state master: derived from a published seed, the same in every lab."""
    return hashlib.sha256(PUBLIC_KEY_SEED + b"/" + key_id.value.encode()).digest()[:crypto.KEY_LEN]


def _package_body(key_id: KeyId, state: KeyState, key: bytes) -> bytes:
    return bytes([key_id.code, state.code]) + key


def open_package(wrapping_key: bytes, package: bytes) -> tuple[KeyId, KeyState, bytes]:
    """(slot, state, key) from a sealed key package; CryptoError if it does not open."""
    body = crypto.decrypt(wrapping_key, package)
    if len(body) != 2 + crypto.KEY_LEN or body[1] not in (0, 1):
        raise crypto.CryptoError("a key package holds a slot, a state and a 16-byte key")
    return KeyId.from_code(body[0]), (KeyState.PUBLIC, KeyState.PRIVATE)[body[1]], body[2:]


class KeyService(Protocol):
    """The office's key service: operations under the key of (slot, state, factor)."""

    @property
    def label(self) -> str: ...  # what records show: never key bytes

    def cryptogram(self, key_id: KeyId, state: KeyState, factor: bytes,
                   challenge: bytes) -> bytes: ...

    def mac(self, key_id: KeyId, state: KeyState, factor: bytes, data: bytes,
            iv: bytes = b"") -> bytes: ...

    def mac_ok(self, key_id: KeyId, state: KeyState, factor: bytes, data: bytes, iv: bytes,
               given: bytes) -> bool: ...

    def encrypt(self, key_id: KeyId, state: KeyState, factor: bytes, data: bytes) -> bytes: ...

    def decrypt(self, key_id: KeyId, state: KeyState, factor: bytes, data: bytes) -> bytes: ...

    def key_package(self, key_id: KeyId, state: KeyState, factor: bytes, *,
                    sealed_with: KeyId, sealed_state: KeyState,
                    whole_master: bool = False) -> bytes:
        """The key of ``(key_id, state)`` dispersed for ``factor`` (or, ``whole_master``, the
        undispersed master of a card slot, going into an ESAM that meets cards of every
        serial), sealed under ``sealed_with``'s key of ``sealed_state`` for ``factor``: what
        a key-update card, a remote key update or a card's personalisation carries."""


class LabKeyService:
    """rig's software key service. Public masters come from the published seed, private ones
    from the lab master key (HMAC-SHA-256 under a per-slot label)."""

    __slots__ = ("_lab", "label")

    def __init__(self, lab_master: bytes, label: str) -> None:
        if len(lab_master) < crypto.KEY_LEN:
            raise crypto.CryptoError("the lab master key is at least 16 bytes")
        self._lab = bytes(lab_master)
        self.label = label

    @classmethod
    def from_master(cls, master: Any) -> LabKeyService:
        """From the lab master key (a ``rig.card.keys.MasterKey``: ``secret_bytes``, ``label``)."""
        return cls(master.secret_bytes(), f"lab key service, master {master.label}")

    def __repr__(self) -> str:
        return f"LabKeyService(<redacted>, {self.label})"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a key service is not picklable (keys stay in one process)")

    def master(self, key_id: KeyId, state: KeyState) -> bytes:
        if state is KeyState.PUBLIC:
            return public_master(key_id)
        label = PRIVATE_KEY_LABEL + key_id.value.encode()
        return hmac.new(self._lab, label, hashlib.sha256).digest()[:crypto.KEY_LEN]

    def _key(self, key_id: KeyId, state: KeyState, factor: bytes) -> bytes:
        return crypto.disperse(self.master(key_id, state), factor)

    def cryptogram(self, key_id: KeyId, state: KeyState, factor: bytes,
                   challenge: bytes) -> bytes:
        return crypto.cryptogram(self._key(key_id, state, factor), challenge)

    def mac(self, key_id: KeyId, state: KeyState, factor: bytes, data: bytes,
            iv: bytes = b"") -> bytes:
        return crypto.mac(self._key(key_id, state, factor), data, iv)

    def mac_ok(self, key_id: KeyId, state: KeyState, factor: bytes, data: bytes, iv: bytes,
               given: bytes) -> bool:
        return crypto.mac_ok(self._key(key_id, state, factor), data, iv, given)

    def encrypt(self, key_id: KeyId, state: KeyState, factor: bytes, data: bytes) -> bytes:
        return crypto.encrypt(self._key(key_id, state, factor), data)

    def decrypt(self, key_id: KeyId, state: KeyState, factor: bytes, data: bytes) -> bytes:
        return crypto.decrypt(self._key(key_id, state, factor), data)

    def key_package(self, key_id: KeyId, state: KeyState, factor: bytes, *,
                    sealed_with: KeyId, sealed_state: KeyState,
                    whole_master: bool = False) -> bytes:
        if whole_master and not key_id.for_cards:
            raise crypto.CryptoError(f"{key_id.value} is a meter key: it leaves dispersed")
        key = (self.master(key_id, state) if whole_master
               else self._key(key_id, state, factor))
        return crypto.encrypt(self._key(sealed_with, sealed_state, factor),
                              _package_body(key_id, state, key))
