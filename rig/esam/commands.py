"""The emulated ESAM's command interface: APDU bytes in, data + SW1 SW2 out.

A meter's firmware drives its ESAM over ISO/IEC 7816 as it drives a card. This is the chip's
side of that bus over the emulated :class:`rig.esam.esam.Esam` (whose logic stays where it
is): one command per ESAM operation (rig/esam/command_set.py, docs/esam.md), each refusal its
own status word, a malformed command the ISO/IEC 7816-4 one (6700, 6A86, 6D00, 6E00...) —
never an exception. Long data arrives by command chaining. It is also a virtual card
(``atr``, ``reset``, ``process``), so a bench can serve it through pcscd + vpcd to the PC/SC
transport a lab uses for a real ESAM in a reader.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from rig.esam import command_set as cs
from rig.esam import crypto
from rig.esam.esam import Esam, EsamError, EsamRefusal
from rig.esam.keys import KeyId, KeyState


class _Sw(Exception):
    """Answer this status word (a malformed command or an unmet condition)."""

    def __init__(self, sw: int) -> None:
        super().__init__(f"SW {sw:04X}")
        self.sw = sw


@dataclass(frozen=True)
class Command:
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes
    le: int | None  # None: no Le; 256 for 00

    @classmethod
    def parse(cls, apdu: bytes) -> Command:
        """A short APDU, cases 1 to 4 (ISO/IEC 7816-3 12.1.2); 6700 if its length is wrong."""
        if len(apdu) < 4:
            raise _Sw(cs.SW_WRONG_LENGTH)
        head, body = apdu[:4], apdu[4:]
        data, le = b"", None
        if len(body) == 1:
            le = body[0] or 256
        elif body:
            lc = body[0]
            if lc == 0 or len(body) not in (1 + lc, 2 + lc):
                raise _Sw(cs.SW_WRONG_LENGTH)
            data = body[1:1 + lc]
            if len(body) == 2 + lc:
                le = body[-1] or 256
        return cls(head[0], head[1], head[2], head[3], bytes(data), le)


def _slot(code: int) -> KeyId:
    try:
        return KeyId.from_code(code)
    except crypto.CryptoError:
        raise _Sw(cs.SW_WRONG_P1P2) from None


def _need(condition: bool, sw: int = cs.SW_WRONG_LENGTH) -> None:
    if not condition:
        raise _Sw(sw)


class EsamCommands:
    """The ESAM chip on its bus. ``clock``: the time the emulated chip keeps the identity
    session by (the meter's bench clock; without one, session commands answer 6985)."""

    atr = cs.ATR

    def __init__(self, esam: Esam, *, clock: Callable[[], datetime] | None = None) -> None:
        self.esam = esam
        self.clock = clock
        self._lock = threading.Lock()
        self._chain: tuple[bytes, bytes] | None = None  # (INS P1 P2, data so far)
        self._trial: Esam | None = None  # key packages staged on a copy: all or none
        self._staged: list[bytes] = []
        self._handlers: dict[int, Callable[[Command], bytes]] = {
            cs.INS_READ_INFO: self._read_info, cs.INS_READ_WALLET: self._read_wallet,
            cs.INS_CHECK_KEY_STATE: self._check_key_state, cs.INS_VERIFY_CARD: self._verify_card,
            cs.INS_ANSWER_CARD: self._answer_card, cs.INS_CARD_MAC: self._card_mac,
            cs.INS_CREDIT: self._credit, cs.INS_INIT_WALLET: self._init_wallet,
            cs.INS_KEY_UPDATE: self._key_update, cs.INS_IDENTITY: self._identity,
            cs.INS_SET_VALIDITY: self._set_validity, cs.INS_END_SESSION: self._end_session,
            cs.INS_CHECK_SESSION: self._check_session, cs.INS_SESSION_MAC: self._session_mac,
            cs.INS_OPEN_SEALED: self._open_sealed,
        }

    def __repr__(self) -> str:
        return f"EsamCommands({self.esam!r})"

    # -- the bus -------------------------------------------------------------------------
    def reset(self) -> None:
        """Power-on reset: a chain and staged key packages are RAM, lost."""
        with self._lock:
            self._chain, self._trial, self._staged = None, None, []

    def process(self, apdu: bytes) -> bytes:
        with self._lock:
            try:
                data = self._dispatch(Command.parse(bytes(apdu)))
            except _Sw as e:
                return e.sw.to_bytes(2, "big")
            except EsamError as e:
                return cs.REFUSAL_SW[e.refusal].to_bytes(2, "big")
            except (crypto.CryptoError, ValueError):
                return cs.SW_WRONG_DATA.to_bytes(2, "big")
            except Exception:  # a chip never throws at its bus: no precise diagnosis
                return cs.SW_NO_DIAGNOSIS.to_bytes(2, "big")
            return data + b"\x90\x00"

    def transmit(self, apdu: bytes) -> bytes:
        """The in-process chip bus: the meter's :class:`rig.esam.link.EsamLink` sends here."""
        return self.process(apdu)

    def _dispatch(self, c: Command) -> bytes:
        chained = c.cla & cs.CHAINING
        cla = c.cla & ~cs.CHAINING
        if cla not in (cs.CLA_ISO, cs.CLA_ESAM):
            self._chain = None
            raise _Sw(cs.SW_CLA_NOT_SUPPORTED)
        if cla == cs.CLA_ISO:  # of the basic commands, an ESAM answers GET CHALLENGE here
            self._chain = None
            _need(c.ins == cs.INS_GET_CHALLENGE, cs.SW_INS_NOT_SUPPORTED)
            _need(not chained, cs.SW_WRONG_P1P2)
            return self._challenge(c)
        handler = self._handlers.get(c.ins)
        if handler is None:
            self._chain = None
            raise _Sw(cs.SW_INS_NOT_SUPPORTED)
        key = bytes([c.ins, c.p1, c.p2])
        if self._chain is not None:
            started, so_far = self._chain
            self._chain = None
            if started != key:
                raise _Sw(cs.SW_CHAIN_BROKEN)
            c = Command(c.cla, c.ins, c.p1, c.p2, so_far + c.data, c.le)
        if chained:
            self._chain = (key, c.data)
            return b""
        return self._answer(handler(c), c.le)

    @staticmethod
    def _answer(data: bytes, le: int | None) -> bytes:
        if le is not None and le < len(data):
            raise _Sw(0x6C00 | len(data))  # wrong Le: the exact length
        return data

    def _now(self) -> datetime:
        if self.clock is None:
            raise _Sw(cs.SW_CONDITIONS)
        return self.clock()

    # -- reading the chip ----------------------------------------------------------------
    def _challenge(self, c: Command) -> bytes:
        _need(c.p1 == c.p2 == 0, cs.SW_WRONG_P1P2)
        _need(not c.data and c.le is not None and 4 <= c.le <= crypto.BLOCK)
        assert c.le is not None
        return self.esam.challenge(c.le)

    def _read_info(self, c: Command) -> bytes:
        _need(c.p1 == c.p2 == 0, cs.SW_WRONG_P1P2)
        _need(not c.data)
        e = self.esam
        return (e.serial + bytes([e.key_state.code])
                + bytes(e.state_of(k).code for k in KeyId)
                + min(e.identity_minutes, 0xFFFF).to_bytes(2, "big"))

    def _read_wallet(self, c: Command) -> bytes:
        _need(c.p1 == c.p2 == 0, cs.SW_WRONG_P1P2)
        _need(not c.data)
        w = self.esam.wallet
        customer = cs.customer_bcd(w.customer_no) if w.customer_no else bytes(cs.CUSTOMER_LEN)
        return (w.total.to_bytes(4, "big") + w.purchase_count.to_bytes(4, "big") + customer
                + bytes([w.opened]))

    def _check_key_state(self, c: Command) -> bytes:
        _need(c.p1 == 0, cs.SW_WRONG_P1P2)
        key_id = _slot(c.p2)
        _need(len(c.data) == 1)
        _need(c.data[0] in (0, 1), cs.SW_WRONG_DATA)
        self.esam.check_key_state(key_id, (KeyState.PUBLIC, KeyState.PRIVATE)[c.data[0]])
        return b""

    # -- a card --------------------------------------------------------------------------
    @staticmethod
    def _serial_and_rest(c: Command, tail: int) -> tuple[str, bytes, bytes]:
        """(card serial, middle, the last ``tail`` bytes) of ``serial ‖ middle ‖ tail``."""
        _need(len(c.data) >= cs.SERIAL_LEN + 4 + tail)
        end = len(c.data) - tail
        return c.data[:cs.SERIAL_LEN].hex().upper(), c.data[cs.SERIAL_LEN:end], c.data[end:]

    def _verify_card(self, c: Command) -> bytes:
        _need(c.p1 == c.p2 == 0, cs.SW_WRONG_P1P2)
        serial, challenge, answer = self._serial_and_rest(c, cs.CRYPTOGRAM_LEN)
        self.esam.check_card(serial, challenge, answer)
        return b""

    def _answer_card(self, c: Command) -> bytes:
        _need(c.p1 == c.p2 == 0, cs.SW_WRONG_P1P2)
        serial, challenge, _ = self._serial_and_rest(c, 0)
        return self.esam.answer_card(serial, challenge)

    def _card_mac(self, c: Command) -> bytes:
        _need(c.p1 in (cs.P1_COMPUTE, cs.P1_VERIFY), cs.SW_WRONG_P1P2)
        key_id = _slot(c.p2)
        verify = c.p1 == cs.P1_VERIFY
        d = c.data
        _need(len(d) > cs.SERIAL_LEN and len(d) >= cs.SERIAL_LEN + 1 + d[cs.SERIAL_LEN]
              + (crypto.MAC_LEN if verify else 0))
        serial = d[:cs.SERIAL_LEN].hex().upper()
        iv_end = cs.SERIAL_LEN + 1 + d[cs.SERIAL_LEN]
        iv, rest = d[cs.SERIAL_LEN + 1:iv_end], d[iv_end:]
        if verify:
            self.esam.check_card_mac(key_id, serial, rest[:-crypto.MAC_LEN], iv,
                                     rest[-crypto.MAC_LEN:])
            return b""
        return self.esam.card_mac(key_id, serial, rest, iv)

    # -- the wallet ----------------------------------------------------------------------
    def _credit(self, c: Command) -> bytes:
        _need(c.p1 in (cs.P1_RECHARGE, cs.P1_OPEN_ACCOUNT) and c.p2 == 0, cs.SW_WRONG_P1P2)
        _need(len(c.data) == 8 + cs.CUSTOMER_LEN)
        customer = c.data[8:].hex()
        _need(customer.isdigit(), cs.SW_WRONG_DATA)
        self.esam.credit(int.from_bytes(c.data[:4], "big"), int.from_bytes(c.data[4:8], "big"),
                         customer, open_account=c.p1 == cs.P1_OPEN_ACCOUNT)
        return b""

    def _init_wallet(self, c: Command) -> bytes:
        _need(c.p1 == c.p2 == 0, cs.SW_WRONG_P1P2)
        _need(len(c.data) == 4)
        self.esam.initialise_wallet(int.from_bytes(c.data, "big"))
        return b""

    # -- keys ----------------------------------------------------------------------------
    def _key_update(self, c: Command) -> bytes:
        """Stage packages on a copy of the chip (each checked against the keys the ones
        before it leave), then commit them all: a refused package installs nothing."""
        _need(c.p1 in (cs.P1_STAGE_FIRST, cs.P1_STAGE_NEXT, cs.P1_COMMIT) and c.p2 == 0,
              cs.SW_WRONG_P1P2)
        if c.p1 == cs.P1_COMMIT:
            _need(not c.data)
            _need(self._trial is not None, cs.SW_CONDITIONS)
            staged, self._trial, self._staged = self._staged, None, []
            for package in staged:
                self.esam.install_key(package)
            return bytes([self.esam.key_state.code])
        _need(bool(c.data))
        if c.p1 == cs.P1_STAGE_FIRST:
            self._trial, self._staged = Esam.from_image(self.esam.meter_no,
                                                        self.esam.to_image()), []
        trial = self._trial
        _need(trial is not None, cs.SW_CONDITIONS)
        assert trial is not None
        try:
            installed = trial.install_key(c.data)
        except EsamError:
            self._trial, self._staged = None, []
            raise
        self._staged.append(c.data)
        return bytes([installed.code, trial.state_of(installed).code])

    # -- the remote session --------------------------------------------------------------
    def _identity(self, c: Command) -> bytes:
        _need(c.p1 == c.p2 == 0, cs.SW_WRONG_P1P2)
        _need(len(c.data) == 3 * cs.CRYPTOGRAM_LEN)
        d = c.data
        rand2, serial = self.esam.identity_authenticate(d[:8], d[8:16], d[16:], self._now())
        return rand2 + serial

    def _set_validity(self, c: Command) -> bytes:
        _need(c.p1 == c.p2 == 0, cs.SW_WRONG_P1P2)
        _need(len(c.data) == 2)
        minutes = int.from_bytes(c.data, "big")
        _need(minutes > 0, cs.SW_WRONG_DATA)
        self.esam.identity_minutes = minutes
        return b""

    def _end_session(self, c: Command) -> bytes:
        _need(c.p1 == c.p2 == 0, cs.SW_WRONG_P1P2)
        _need(not c.data)
        self.esam.end_identity()
        return b""

    def _check_session(self, c: Command) -> bytes:
        """9000 while the identity session holds; 6982 (and the session ended) after."""
        _need(c.p1 == c.p2 == 0, cs.SW_WRONG_P1P2)
        _need(not c.data)
        if not self.esam.identity_valid(self._now()):
            self.esam.end_identity()
            raise EsamError(EsamRefusal.NO_IDENTITY)
        return b""

    def _session_mac(self, c: Command) -> bytes:
        _need(c.p1 in (cs.P1_COMPUTE, cs.P1_VERIFY), cs.SW_WRONG_P1P2)
        key_id = _slot(c.p2)
        if c.p1 == cs.P1_VERIFY:
            _need(len(c.data) >= crypto.MAC_LEN)
            self.esam.check_session_mac(key_id, c.data[:-crypto.MAC_LEN],
                                        c.data[-crypto.MAC_LEN:], self._now())
            return b""
        return self.esam.session_mac(key_id, c.data, self._now())

    def _open_sealed(self, c: Command) -> bytes:
        _need(c.p1 == 0, cs.SW_WRONG_P1P2)
        key_id = _slot(c.p2)
        _need(bool(c.data))
        return self.esam.open_sealed(key_id, c.data)
