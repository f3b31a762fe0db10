"""Card-side application: the card's file system and APDU processor (pure, no I/O).

Both the virtual card on vpcd and the emulated meter's in-process card slot run this same
object, so a card written by the vending station over PC/SC is byte-identical to what the meter
firmware reads. Behaviour and status words are specified in docs/card-spec.md.
"""

from __future__ import annotations

import hmac
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from rig.card import apdu as A
from rig.card.keys import KEY_LEN, auth_cryptogram, internal_auth_cryptogram
from rig.card.records import (
    CardInfo,
    ClearRecord,
    KeyChangeRecord,
    ParameterRecord,
    PurchaseRecord,
    ReadbackRecord,
    TariffRecord,
)

# EF file identifiers (transparent EFs under the application DF) and their fixed sizes.
FID_KEYS = 0x0100
FID_CARD_INFO = 0x0101
FID_PURCHASE = 0x0102
FID_TARIFF = 0x0103
FID_READBACK = 0x0104
FID_COMMAND = 0x0105

EF_NAMES: dict[int, str] = {
    FID_KEYS: "KEYS",
    FID_CARD_INFO: "CARD_INFO",
    FID_PURCHASE: "PURCHASE",
    FID_TARIFF: "TARIFF",
    FID_READBACK: "READBACK",
    FID_COMMAND: "COMMAND",
}
# Each EF is the record size rounded up with spare room for a later format version.
READBACK_SLOT = 64  # READBACK holds two slots (double buffer), each one ReadbackRecord
EF_SIZES: dict[int, int] = {
    FID_KEYS: 2 * KEY_LEN,
    FID_CARD_INFO: 32,
    FID_PURCHASE: 48,
    FID_TARIFF: 48,
    FID_READBACK: 2 * READBACK_SLOT,
    FID_COMMAND: 96,
}
EF_RECORDS = {
    FID_CARD_INFO: CardInfo,
    FID_PURCHASE: PurchaseRecord,
    FID_TARIFF: TariffRecord,
}
for _fid, _rec in EF_RECORDS.items():
    assert EF_SIZES[_fid] >= _rec.SIZE
assert READBACK_SLOT >= ReadbackRecord.SIZE
assert EF_SIZES[FID_COMMAND] >= max(r.SIZE for r in (ParameterRecord, ClearRecord,
                                                     KeyChangeRecord))

# Key references for EXTERNAL AUTHENTICATE (P2) and the EFs each one opens for UPDATE BINARY
# once the card is operational. READ BINARY is free on every EF except KEYS (never readable).
KEY_STATION = 0x01  # card key: derived from the master key and the card serial
KEY_METER = 0x02  # readback key: derived from the bound meter's key and the card serial
MAX_TRIES = 3
UPDATE_KEY: dict[int, int] = {
    FID_KEYS: KEY_STATION,
    FID_CARD_INFO: KEY_STATION,
    FID_PURCHASE: KEY_STATION,
    FID_TARIFF: KEY_STATION,
    FID_COMMAND: KEY_STATION,
    FID_READBACK: KEY_METER,
}

# Life cycle status (ISO 7816-4 LCS values): in INITIALISATION every EF except KEYS is freely
# readable and writable (the issuer personalises); ACTIVATE FILE makes it OPERATIONAL.
LCS_INITIALISATION = 0x03
LCS_OPERATIONAL = 0x05


def _sw(sw: int, data: bytes = b"") -> bytes:
    return data + sw.to_bytes(2, "big")


class _Parsed:
    """A decoded short command APDU (case 1-4); extended length is not supported."""

    __slots__ = ("cla", "data", "ins", "le", "p1", "p2")

    def __init__(self, raw: bytes) -> None:
        self.cla, self.ins, self.p1, self.p2 = raw[0], raw[1], raw[2], raw[3]
        body = raw[4:]
        self.data = b""
        self.le: int | None = None
        if len(body) == 1:  # case 2: Le only, 00 means 256
            self.le = body[0] or 256
        elif len(body) > 1:
            lc = body[0]
            if lc == 0 or len(body) not in (1 + lc, 2 + lc):
                raise ValueError("Lc does not match the APDU length (or extended length)")
            self.data = bytes(body[1:1 + lc])
            if len(body) == 2 + lc:  # case 4
                self.le = body[-1] or 256


class CardApplication:
    """ISO 7816-4 application 'RIGPP': six transparent EFs, two keys, a life cycle.

    State after `reset()` (power-on): application not selected, no current EF. The lock makes
    `process` atomic, so two terminals (e.g. a PC/SC reader and the meter slot) can never
    interleave commands on one card.
    """

    def __init__(self, files: Mapping[int, bytes] | None = None,
                 rng: Callable[[int], bytes] = os.urandom) -> None:
        self._lock = threading.RLock()
        self._rng = rng
        self._files: dict[int, bytearray] = {fid: bytearray(size)
                                             for fid, size in EF_SIZES.items()}
        for fid, content in (files or {}).items():
            self.write_ef(fid, content)
        self._app_selected = False
        self._current_ef: int | None = None
        self.last_challenge: bytes | None = None
        self.lifecycle = LCS_INITIALISATION
        self.tries = {KEY_STATION: MAX_TRIES, KEY_METER: MAX_TRIES}
        self.authenticated: int | None = None  # key reference, volatile

    # --- direct file access (personalisation, persistence, tests) -------------------------

    def read_ef(self, fid: int) -> bytes:
        with self._lock:
            return bytes(self._files[fid])

    def write_ef(self, fid: int, content: bytes, offset: int = 0) -> None:
        """Write file bytes directly (a card factory's personalisation, not an APDU)."""
        with self._lock:
            ef = self._files.get(fid)
            if ef is None:
                raise KeyError(f"no EF {fid:04X} on this card")
            if offset < 0 or offset + len(content) > len(ef):
                raise ValueError(f"EF {fid:04X}: {len(content)} bytes at {offset} exceed "
                                 f"size {len(ef)}")
            ef[offset:offset + len(content)] = content

    @property
    def operational(self) -> bool:
        return self.lifecycle == LCS_OPERATIONAL

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly snapshot of the card's non-volatile memory, keys included (the card's
        secure memory: whoever stores it must protect it like the card itself). Selection and
        security state are volatile and not kept."""
        with self._lock:
            return {
                "efs": {f"{fid:04X}": bytes(ef).hex() for fid, ef in self._files.items()},
                "lifecycle": self.lifecycle,
                "tries": {str(ref): n for ref, n in self.tries.items()},
            }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CardApplication:
        files = {int(fid, 16): bytes.fromhex(content) for fid, content in data["efs"].items()}
        app = cls(files)
        lcs = data.get("lifecycle", LCS_INITIALISATION)
        if lcs not in (LCS_INITIALISATION, LCS_OPERATIONAL):
            raise ValueError(f"card lifecycle {lcs!r} is neither 3 nor 5")
        app.lifecycle = lcs
        for ref, n in data.get("tries", {}).items():
            if int(ref) not in app.tries or not 0 <= int(n) <= MAX_TRIES:
                raise ValueError(f"card tries entry {ref}: {n} invalid")
            app.tries[int(ref)] = int(n)
        return app

    def _key(self, ref: int) -> bytes:
        keys = self._files[FID_KEYS]
        return bytes(keys[(ref - 1) * KEY_LEN:ref * KEY_LEN])

    # --- APDU processing --------------------------------------------------------------------

    def reset(self) -> None:
        """Power-on / warm reset: nothing selected, challenge forgotten; EF contents stay."""
        with self._lock:
            self._app_selected = False
            self._current_ef = None
            self.last_challenge = None
            self.authenticated = None

    def process(self, apdu: bytes) -> bytes:
        """Execute one C-APDU and return the R-APDU (data + SW1 SW2). Never raises."""
        with self._lock:
            try:
                return self._process(bytes(apdu))
            except Exception:  # a card never crashes the terminal; 6F00 = no precise diagnosis
                return _sw(A.SW_UNKNOWN)

    def _process(self, raw: bytes) -> bytes:
        if len(raw) < 4:
            return _sw(A.SW_WRONG_LENGTH)
        if raw[0] != A.CLA:
            return _sw(A.SW_CLA_NOT_SUPPORTED)
        handler = self._HANDLERS.get(raw[1])
        if handler is None:
            return _sw(A.SW_INS_NOT_SUPPORTED)
        try:
            cmd = _Parsed(raw)
        except ValueError:
            return _sw(A.SW_WRONG_LENGTH)
        return handler(self, cmd)

    def _select(self, cmd: _Parsed) -> bytes:
        if cmd.p1 == 0x04 and cmd.p2 in (0x00, 0x0C):
            if not cmd.data:
                return _sw(A.SW_WRONG_LENGTH)
            if cmd.data != A.AID:
                return _sw(A.SW_FILE_NOT_FOUND)
            self._app_selected = True
            self._current_ef = None
            self.authenticated = None
            return _sw(A.SW_OK)
        if cmd.p1 == 0x02 and cmd.p2 == 0x0C:
            if len(cmd.data) != 2 or cmd.le is not None:
                return _sw(A.SW_WRONG_LENGTH)
            if not self._app_selected:
                return _sw(A.SW_CONDITIONS_NOT_SATISFIED)
            fid = int.from_bytes(cmd.data, "big")
            if fid not in self._files:
                return _sw(A.SW_FILE_NOT_FOUND)
            self._current_ef = fid
            return _sw(A.SW_OK)
        return _sw(A.SW_WRONG_P1P2)

    def _binary_target(self, cmd: _Parsed) -> tuple[bytearray, int] | bytes:
        if cmd.p1 & 0x80:  # short-EF-identifier addressing is not supported
            return _sw(A.SW_WRONG_P1P2)
        if self._current_ef is None:
            return _sw(A.SW_NO_EF_SELECTED)
        ef = self._files[self._current_ef]
        offset = (cmd.p1 << 8) | cmd.p2
        if offset >= len(ef):
            return _sw(A.SW_WRONG_OFFSET)
        return ef, offset

    def _read_binary(self, cmd: _Parsed) -> bytes:
        if cmd.data or cmd.le is None:
            return _sw(A.SW_WRONG_LENGTH)
        target = self._binary_target(cmd)
        if isinstance(target, bytes):
            return target
        if self._current_ef == FID_KEYS:
            return _sw(A.SW_SECURITY_NOT_SATISFIED)  # keys never leave the card
        ef, offset = target
        available = len(ef) - offset
        if cmd.le > available:
            return _sw(0x6C00 | available)  # 6Cxx: retry with Le = xx
        return _sw(A.SW_OK, bytes(ef[offset:offset + cmd.le]))

    def _update_binary(self, cmd: _Parsed) -> bytes:
        if not cmd.data or cmd.le is not None:
            return _sw(A.SW_WRONG_LENGTH)
        target = self._binary_target(cmd)
        if isinstance(target, bytes):
            return target
        ef, offset = target
        if offset + len(cmd.data) > len(ef):
            return _sw(A.SW_WRONG_LENGTH)
        fid = self._current_ef
        if self.operational and self.authenticated != UPDATE_KEY[fid]:
            return _sw(A.SW_SECURITY_NOT_SATISFIED)
        if fid == FID_KEYS:  # a key (re)loaded gets its full try counter back
            for ref in self.tries:
                lo, hi = (ref - 1) * KEY_LEN, ref * KEY_LEN
                if offset < hi and offset + len(cmd.data) > lo:
                    self.tries[ref] = MAX_TRIES
        ef[offset:offset + len(cmd.data)] = cmd.data
        return _sw(A.SW_OK)

    def _get_challenge(self, cmd: _Parsed) -> bytes:
        if cmd.p1 or cmd.p2:
            return _sw(A.SW_WRONG_P1P2)
        if cmd.data or cmd.le != 8:
            return _sw(A.SW_WRONG_LENGTH)
        self.last_challenge = self._rng(8)
        return _sw(A.SW_OK, self.last_challenge)

    def _external_authenticate(self, cmd: _Parsed) -> bytes:
        if cmd.p1:
            return _sw(A.SW_WRONG_P1P2)
        if len(cmd.data) != 8 or cmd.le is not None:
            return _sw(A.SW_WRONG_LENGTH)
        ref = cmd.p2
        if ref not in self.tries or not any(self._key(ref)):
            return _sw(A.SW_REF_DATA_NOT_FOUND)
        if self.tries[ref] == 0:
            return _sw(A.SW_AUTH_METHOD_BLOCKED)
        challenge, self.last_challenge = self.last_challenge, None  # one attempt per challenge
        if not self._app_selected or challenge is None:
            return _sw(A.SW_CONDITIONS_NOT_SATISFIED)
        serial = bytes(self._files[FID_CARD_INFO][2:10])
        expected = auth_cryptogram(self._key(ref), challenge, serial, ref)
        if hmac.compare_digest(expected, cmd.data):
            self.tries[ref] = MAX_TRIES
            self.authenticated = ref
            return _sw(A.SW_OK)
        self.tries[ref] -= 1
        self.authenticated = None
        return _sw(0x63C0 | self.tries[ref])

    def _internal_authenticate(self, cmd: _Parsed) -> bytes:
        """The card proves it holds key ``ref``; free (no access condition), changes no state
        and burns no try: a terminal asks it of every card it is about to trust."""
        if cmd.p1:
            return _sw(A.SW_WRONG_P1P2)
        if len(cmd.data) != 8 or cmd.le != 8:
            return _sw(A.SW_WRONG_LENGTH)
        ref = cmd.p2
        if ref not in self.tries or not any(self._key(ref)):
            return _sw(A.SW_REF_DATA_NOT_FOUND)
        if not self._app_selected:
            return _sw(A.SW_CONDITIONS_NOT_SATISFIED)
        serial = bytes(self._files[FID_CARD_INFO][2:10])
        return _sw(A.SW_OK, internal_auth_cryptogram(self._key(ref), cmd.data, serial, ref))

    def _activate(self, cmd: _Parsed) -> bytes:
        if cmd.p1 or cmd.p2:
            return _sw(A.SW_WRONG_P1P2)
        if cmd.data or cmd.le is not None:
            return _sw(A.SW_WRONG_LENGTH)
        if not self._app_selected:
            return _sw(A.SW_CONDITIONS_NOT_SATISFIED)
        if self.operational:
            return _sw(A.SW_OK)
        issued = any(self._files[FID_CARD_INFO])
        if not issued or not all(any(self._key(ref)) for ref in self.tries):
            return _sw(A.SW_CONDITIONS_NOT_SATISFIED)  # personalise CARD_INFO and keys first
        self.lifecycle = LCS_OPERATIONAL
        self.authenticated = None
        return _sw(A.SW_OK)

    _HANDLERS: ClassVar[dict[int, Callable[[CardApplication, _Parsed], bytes]]] = {
        A.INS_SELECT: _select,
        A.INS_READ_BINARY: _read_binary,
        A.INS_UPDATE_BINARY: _update_binary,
        A.INS_GET_CHALLENGE: _get_challenge,
        A.INS_EXTERNAL_AUTHENTICATE: _external_authenticate,
        A.INS_INTERNAL_AUTHENTICATE: _internal_authenticate,
        A.INS_ACTIVATE_FILE: _activate,
    }
