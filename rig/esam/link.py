"""The meter's side of its ESAM bus: typed calls that become APDUs (docs/esam.md).

A meter's firmware reaches its ESAM as it reaches a card, with APDUs over ISO/IEC 7816.
:class:`EsamLink` builds each command of rig/esam/command_set.py, sends it over an
:class:`EsamTransport` and turns a refusal's status word back into the
:class:`~rig.esam.esam.EsamError` the firmware maps to its card error code or DL/T 645 error
word, carrying the refused command's header and status word for the abnormal-insertion
record. Its methods are named as :class:`~rig.esam.esam.Esam`'s, without the ``now`` the
emulated chip takes from its own clock. The transport is the emulated chip in process
(:meth:`EsamLink.emulated`) or, for a meter board's ESAM in a lab's reader, a PC/SC
connection (``rig.card.pcsc.PcscConnection``: anything with ``transmit``). Every exchange
can be recorded in the bench's APDU trace, terminal ``esam``, secrets cut.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from rig.esam import command_set as cs
from rig.esam import crypto
from rig.esam.commands import EsamCommands
from rig.esam.esam import Esam, EsamError, EsamRefusal, Wallet
from rig.esam.keys import KeyId, KeyState, card_factor

ESAM_TERMINAL = "esam"  # the terminal name an ESAM's exchanges are traced under
_STATES = (KeyState.PUBLIC, KeyState.PRIVATE)


class EsamTransport(Protocol):
    """Anything that exchanges one APDU with the ESAM: returns data + SW1 SW2."""

    def transmit(self, apdu: bytes) -> bytes: ...


class EsamTrace(Protocol):
    """Where exchanges are recorded (``rig.card.trace.ApduTrace``): ``secret`` cuts the data
    fields of both command and answer, keeping the header and the status word."""

    def record(self, command: bytes, response: bytes, *, terminal: str = ...,
               name: str | None = ..., secret: bool = ..., started: float | None = ...,
               duration: float = ...) -> object: ...


def _apdu(ins: int, p1: int = 0, p2: int = 0, data: bytes = b"", le: int | None = None, *,
          cla: int = cs.CLA_ESAM) -> bytes:
    out = bytes([cla, ins, p1, p2])
    if data:
        out += bytes([len(data)]) + data
    if le is not None:
        out += bytes([le & 0xFF])
    return out


def _u32(value: int, what: str) -> bytes:
    if not 0 <= value <= 0xFFFF_FFFF:
        raise EsamError(EsamRefusal.OVERFLOW, f"{what} {value} does not fit 4 bytes")
    return value.to_bytes(4, "big")


class EsamLink:
    """The meter firmware's ESAM, reached through ``transport``."""

    def __init__(self, transport: EsamTransport, *, trace: EsamTrace | None = None) -> None:
        self.transport = transport
        self.trace = trace  # the bench's APDU trace, while the meter is traced
        self.last_header = bytes(5)

    @classmethod
    def emulated(cls, esam: Esam, *, clock: Callable[[], datetime] | None = None,
                 trace: EsamTrace | None = None) -> EsamLink:
        """Over the in-process chip bus to the emulated ``esam`` (``clock``: the meter's,
        which the emulated chip keeps the identity session by)."""
        return cls(EsamCommands(esam, clock=clock), trace=trace)

    # -- the bus -------------------------------------------------------------------------
    def _exchange(self, apdu: bytes) -> bytes:
        self.last_header = apdu[:5].ljust(5, b"\0")
        started = time.monotonic()
        try:
            response = bytes(self.transport.transmit(apdu))
        except Exception as e:  # a reader pulled, a chip gone: the ESAM failed
            raise EsamError(EsamRefusal.FAULT, f"{cs.describe(apdu)}: {e}",
                            header=self.last_header) from None
        if self.trace is not None:
            self.trace.record(apdu, response, terminal=ESAM_TERMINAL, name=cs.describe(apdu),
                              secret=cs.is_secret(apdu), started=started,
                              duration=time.monotonic() - started)
        return response

    def send(self, ins: int, p1: int = 0, p2: int = 0, data: bytes = b"",
             le: int | None = None, *, cla: int = cs.CLA_ESAM, detail: str = "") -> bytes:
        """One command (chained if its data is long); its answer's data, or EsamError."""
        while len(data) > cs.CHUNK:
            part, data = data[:cs.CHUNK], data[cs.CHUNK:]
            self._check(self._exchange(_apdu(ins, p1, p2, part, cla=cla | cs.CHAINING)),
                        detail)
        return self._check(self._exchange(_apdu(ins, p1, p2, data, le, cla=cla)), detail)

    def _check(self, response: bytes, detail: str) -> bytes:
        if len(response) < 2:
            raise EsamError(EsamRefusal.FAULT, "no status word", header=self.last_header)
        sw = int.from_bytes(response[-2:], "big")
        if sw == cs.SW_OK:
            return response[:-2]
        refusal = cs.SW_REFUSAL.get(sw, EsamRefusal.FAULT)
        what = f"{cs.describe(self.last_header)}: SW {sw:04X}"
        raise EsamError(refusal, f"{detail}; {what}" if detail else what,
                        header=self.last_header, status_word=sw)

    # -- reading the chip ----------------------------------------------------------------
    def challenge(self, length: int = 8) -> bytes:
        return self.send(cs.INS_GET_CHALLENGE, le=length, cla=cs.CLA_ISO)

    def _info(self) -> bytes:
        info = self.send(cs.INS_READ_INFO, le=cs.INFO_LEN)
        if len(info) != cs.INFO_LEN:
            raise EsamError(EsamRefusal.FAULT, f"ESAM info of {len(info)} bytes",
                            header=self.last_header, status_word=cs.SW_OK)
        return info

    @property
    def serial(self) -> bytes:
        return self._info()[:8]

    @property
    def key_state(self) -> KeyState:
        return _STATES[self._info()[8] & 1]

    def state_of(self, key_id: KeyId) -> KeyState:
        return _STATES[self._info()[9 + key_id.code - 1] & 1]

    @property
    def identity_minutes(self) -> int:
        return int.from_bytes(self._info()[18:20], "big")

    @identity_minutes.setter
    def identity_minutes(self, minutes: int) -> None:
        self.set_identity_minutes(minutes)

    @property
    def wallet(self) -> Wallet:
        """A snapshot of the wallet file (the ESAM's, read now)."""
        raw = self.send(cs.INS_READ_WALLET, le=cs.WALLET_LEN)
        if len(raw) != cs.WALLET_LEN:
            raise EsamError(EsamRefusal.FAULT, f"wallet file of {len(raw)} bytes",
                            header=self.last_header, status_word=cs.SW_OK)
        return Wallet(purchase_count=int.from_bytes(raw[4:8], "big"),
                      total=int.from_bytes(raw[:4], "big"),
                      customer_no=raw[8:14].hex() if raw[14] else None)

    def check_key_state(self, key_id: KeyId, claimed: KeyState) -> None:
        self.send(cs.INS_CHECK_KEY_STATE, 0, key_id.code, bytes([claimed.code]),
                  detail=f"{key_id.value} made {claimed.value}")

    # -- a card --------------------------------------------------------------------------
    def check_card(self, card_serial: str, challenge: bytes, answer: bytes) -> None:
        """Internal authentication: the card's answer to our challenge, checked."""
        self.send(cs.INS_VERIFY_CARD, data=self._serial(card_serial) + challenge + answer,
                  detail="the card's internal authentication")

    def answer_card(self, card_serial: str, card_challenge: bytes) -> bytes:
        """External authentication: our cryptogram on the card's challenge."""
        return self.send(cs.INS_ANSWER_CARD, data=self._serial(card_serial) + card_challenge,
                         le=cs.CRYPTOGRAM_LEN)

    def check_card_mac(self, key_id: KeyId, card_serial: str, data: bytes, iv: bytes,
                       given: bytes) -> None:
        self.send(cs.INS_CARD_MAC, cs.P1_VERIFY, key_id.code,
                  self._mac_head(card_serial, iv) + data + given, detail=key_id.value)

    def card_mac(self, key_id: KeyId, card_serial: str, data: bytes, iv: bytes = b"") -> bytes:
        return self.send(cs.INS_CARD_MAC, cs.P1_COMPUTE, key_id.code,
                         self._mac_head(card_serial, iv) + data, le=crypto.MAC_LEN)

    @staticmethod
    def _serial(card_serial: str) -> bytes:
        try:
            return card_factor(card_serial)
        except crypto.CryptoError as e:
            raise EsamError(EsamRefusal.AUTHENTICATION, str(e)) from None

    def _mac_head(self, card_serial: str, iv: bytes) -> bytes:
        return self._serial(card_serial) + bytes([len(iv)]) + iv

    # -- the wallet ----------------------------------------------------------------------
    def credit(self, amount: int, purchase_count: int, customer_no: str, *,
               open_account: bool = False) -> None:
        p1 = cs.P1_OPEN_ACCOUNT if open_account else cs.P1_RECHARGE
        self.send(cs.INS_CREDIT, p1, 0, _u32(amount, "amount")
                  + _u32(purchase_count, "purchase count") + cs.customer_bcd(customer_no),
                  detail=f"purchase {purchase_count}")

    def initialise_wallet(self, preset: int) -> None:
        self.send(cs.INS_INIT_WALLET, data=_u32(preset, "preset"))

    # -- keys ----------------------------------------------------------------------------
    def stage_keys(self, packages: list[bytes]) -> list[tuple[KeyId, KeyState]]:
        """Have the ESAM check key-update packages, each against the keys the ones before it
        leave; nothing is installed until :meth:`commit_keys`. The (slot, state) of each."""
        out = []
        for n, package in enumerate(packages):
            answer = self.send(cs.INS_KEY_UPDATE, cs.P1_STAGE_NEXT if n else cs.P1_STAGE_FIRST,
                               0, package, le=2, detail=f"key package {n + 1}")
            try:
                out.append((KeyId.from_code(answer[0]), _STATES[answer[1] & 1]))
            except (IndexError, crypto.CryptoError):
                raise EsamError(EsamRefusal.FAULT, f"answer {answer.hex()} to a key package",
                                header=self.last_header, status_word=cs.SW_OK) from None
        return out

    def commit_keys(self) -> KeyState:
        """Install every staged package; the ESAM's key state after."""
        return _STATES[self.send(cs.INS_KEY_UPDATE, cs.P1_COMMIT, le=1)[:1][0] & 1]

    def install_key(self, package: bytes) -> KeyId:
        key_id = self.stage_keys([package])[0][0]
        self.commit_keys()
        return key_id

    # -- remote: identity authentication and the session's MACs -----------------------
    def identity_authenticate(self, cipher1: bytes, rand1: bytes,
                              factor: bytes) -> tuple[bytes, bytes]:
        """(rand2, ESAM serial) of a new identity session."""
        if not len(cipher1) == len(rand1) == len(factor) == cs.CRYPTOGRAM_LEN:
            raise EsamError(EsamRefusal.IDENTITY, "cipher, random and factor are 8 bytes each")
        answer = self.send(cs.INS_IDENTITY, data=cipher1 + rand1 + factor, le=12)
        return answer[:4], answer[4:12]

    def identity_valid(self) -> bool:
        try:
            self.check_session()
        except EsamError as e:
            if e.refusal is EsamRefusal.NO_IDENTITY:
                return False
            raise
        return True

    def check_session(self) -> None:
        """EsamError(NO_IDENTITY), the session ended, once it no longer holds."""
        self.send(cs.INS_CHECK_SESSION)

    def end_identity(self) -> None:
        self.send(cs.INS_END_SESSION)

    def set_identity_minutes(self, minutes: int) -> None:
        """From the next identity authentication on, it holds this many minutes."""
        if not 1 <= minutes <= 0xFFFF:
            raise ValueError(f"identity validity {minutes} minutes: 1 to 65535")
        self.send(cs.INS_SET_VALIDITY, data=minutes.to_bytes(2, "big"))

    def check_session_mac(self, key_id: KeyId, data: bytes, given: bytes) -> None:
        self.send(cs.INS_SESSION_MAC, cs.P1_VERIFY, key_id.code, data + given,
                  detail=key_id.value)

    def session_mac(self, key_id: KeyId, data: bytes) -> bytes:
        return self.send(cs.INS_SESSION_MAC, cs.P1_COMPUTE, key_id.code, data,
                         le=crypto.MAC_LEN)

    def open_sealed(self, key_id: KeyId, data: bytes) -> bytes:
        return self.send(cs.INS_OPEN_SEALED, 0, key_id.code, data, le=0,
                         detail=key_id.value)
