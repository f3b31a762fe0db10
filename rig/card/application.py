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
from rig.card.atr import RIGPP_ATR
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


_OK = _sw(A.SW_OK)  # the status word of nearly every answer, built once


class CardApplication:
    """ISO 7816-4 application 'RIGPP': six transparent EFs, two keys, a life cycle.

    State after `reset()` (power-on): application not selected, no current EF. The lock makes
    `process` atomic, so two terminals (e.g. a PC/SC reader and the meter slot) can never
    interleave commands on one card.
    """

    atr = RIGPP_ATR  # what the card answers a reader's reset with (rig.card.atr)

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
        """Decode a short command APDU (cases 1-4; extended length is not supported) and hand
        P1, P2, the data field and Le (None if absent; 00 means 256) to the INS's handler.
        Plain values, no object per APDU: this runs for every exchange with the card."""
        n = len(raw)
        if n < 4:
            return _sw(A.SW_WRONG_LENGTH)
        if raw[0] != A.CLA:
            return _sw(A.SW_CLA_NOT_SUPPORTED)
        handler = self._HANDLERS.get(raw[1])
        if handler is None:
            return _sw(A.SW_INS_NOT_SUPPORTED)
        data = b""
        le: int | None = None
        if n == 5:  # case 2: Le only
            le = raw[4] or 256
        elif n > 5:
            lc = raw[4]
            if lc == 0 or n not in (5 + lc, 6 + lc):  # Lc does not match (or extended length)
                return _sw(A.SW_WRONG_LENGTH)
            data = raw[5:5 + lc]
            if n == 6 + lc:  # case 4
                le = raw[-1] or 256
        return handler(self, raw[2], raw[3], data, le)

    def _select(self, p1: int, p2: int, data: bytes, le: int | None) -> bytes:
        if p1 == 0x04 and p2 in (0x00, 0x0C):
            if not data:
                return _sw(A.SW_WRONG_LENGTH)
            if data != A.AID:
                return _sw(A.SW_FILE_NOT_FOUND)
            self._app_selected = True
            self._current_ef = None
            self.authenticated = None
            return _OK
        if p1 == 0x02 and p2 == 0x0C:
            if len(data) != 2 or le is not None:
                return _sw(A.SW_WRONG_LENGTH)
            if not self._app_selected:
                return _sw(A.SW_CONDITIONS_NOT_SATISFIED)
            fid = (data[0] << 8) | data[1]
            if fid not in self._files:
                return _sw(A.SW_FILE_NOT_FOUND)
            self._current_ef = fid
            return _OK
        return _sw(A.SW_WRONG_P1P2)

    def _binary_refusal(self, p1: int, p2: int) -> bytes | None:
        """The SW refusing READ/UPDATE BINARY at offset P1-P2 of the current EF, or None."""
        if p1 & 0x80:  # short-EF-identifier addressing is not supported
            return _sw(A.SW_WRONG_P1P2)
        if self._current_ef is None:
            return _sw(A.SW_NO_EF_SELECTED)
        if ((p1 << 8) | p2) >= len(self._files[self._current_ef]):
            return _sw(A.SW_WRONG_OFFSET)
        return None

    def _read_binary(self, p1: int, p2: int, data: bytes, le: int | None) -> bytes:
        if data or le is None:
            return _sw(A.SW_WRONG_LENGTH)
        refusal = self._binary_refusal(p1, p2)
        if refusal is not None:
            return refusal
        if self._current_ef == FID_KEYS:
            return _sw(A.SW_SECURITY_NOT_SATISFIED)  # keys never leave the card
        ef = self._files[self._current_ef]
        offset = (p1 << 8) | p2
        available = len(ef) - offset
        if le > available:
            return _sw(0x6C00 | available)  # 6Cxx: retry with Le = xx
        return bytes(ef[offset:offset + le]) + _OK

    def _update_binary(self, p1: int, p2: int, data: bytes, le: int | None) -> bytes:
        if not data or le is not None:
            return _sw(A.SW_WRONG_LENGTH)
        refusal = self._binary_refusal(p1, p2)
        if refusal is not None:
            return refusal
        fid = self._current_ef
        assert fid is not None  # _binary_refusal refused otherwise
        ef = self._files[fid]
        offset = (p1 << 8) | p2
        if offset + len(data) > len(ef):
            return _sw(A.SW_WRONG_LENGTH)
        if self.operational and self.authenticated != UPDATE_KEY[fid]:
            return _sw(A.SW_SECURITY_NOT_SATISFIED)
        if fid == FID_KEYS:  # a key (re)loaded gets its full try counter back
            for ref in self.tries:
                lo, hi = (ref - 1) * KEY_LEN, ref * KEY_LEN
                if offset < hi and offset + len(data) > lo:
                    self.tries[ref] = MAX_TRIES
        ef[offset:offset + len(data)] = data
        return _OK

    def _get_challenge(self, p1: int, p2: int, data: bytes, le: int | None) -> bytes:
        if p1 or p2:
            return _sw(A.SW_WRONG_P1P2)
        if data or le != 8:
            return _sw(A.SW_WRONG_LENGTH)
        self.last_challenge = self._rng(8)
        return self.last_challenge + _OK

    def _external_authenticate(self, p1: int, p2: int, data: bytes, le: int | None) -> bytes:
        if p1:
            return _sw(A.SW_WRONG_P1P2)
        if len(data) != 8 or le is not None:
            return _sw(A.SW_WRONG_LENGTH)
        ref = p2
        if ref not in self.tries or not any(self._key(ref)):
            return _sw(A.SW_REF_DATA_NOT_FOUND)
        if self.tries[ref] == 0:
            return _sw(A.SW_AUTH_METHOD_BLOCKED)
        challenge, self.last_challenge = self.last_challenge, None  # one attempt per challenge
        if not self._app_selected or challenge is None:
            return _sw(A.SW_CONDITIONS_NOT_SATISFIED)
        serial = bytes(self._files[FID_CARD_INFO][2:10])
        expected = auth_cryptogram(self._key(ref), challenge, serial, ref)
        if hmac.compare_digest(expected, data):
            self.tries[ref] = MAX_TRIES
            self.authenticated = ref
            return _OK
        self.tries[ref] -= 1
        self.authenticated = None
        return _sw(0x63C0 | self.tries[ref])

    def _internal_authenticate(self, p1: int, p2: int, data: bytes, le: int | None) -> bytes:
        """The card proves it holds key ``ref``; free (no access condition), changes no state
        and burns no try: a terminal asks it of every card it is about to trust."""
        if p1:
            return _sw(A.SW_WRONG_P1P2)
        if len(data) != 8 or le != 8:
            return _sw(A.SW_WRONG_LENGTH)
        ref = p2
        if ref not in self.tries or not any(self._key(ref)):
            return _sw(A.SW_REF_DATA_NOT_FOUND)
        if not self._app_selected:
            return _sw(A.SW_CONDITIONS_NOT_SATISFIED)
        serial = bytes(self._files[FID_CARD_INFO][2:10])
        return internal_auth_cryptogram(self._key(ref), data, serial, ref) + _OK

    def _activate(self, p1: int, p2: int, data: bytes, le: int | None) -> bytes:
        if p1 or p2:
            return _sw(A.SW_WRONG_P1P2)
        if data or le is not None:
            return _sw(A.SW_WRONG_LENGTH)
        if not self._app_selected:
            return _sw(A.SW_CONDITIONS_NOT_SATISFIED)
        if self.operational:
            return _OK
        issued = any(self._files[FID_CARD_INFO])
        if not issued or not all(any(self._key(ref)) for ref in self.tries):
            return _sw(A.SW_CONDITIONS_NOT_SATISFIED)  # personalise CARD_INFO and keys first
        self.lifecycle = LCS_OPERATIONAL
        self.authenticated = None
        return _OK

    # --- replaying a recorded trace (rig card replay, docs/card-formats.md) -------------------

    def replay_secret(self, header: bytes, status_word: int) -> None:
        """Put the card in the state a recorded, redacted exchange left it in, without its
        secret data: a successful EXTERNAL AUTHENTICATE opens the key's access rights; a
        secret UPDATE BINARY (key loading) fills the field with a stand-in of its length,
        never the recorded key (so ACTIVATE finds keys loaded). Nothing else changes."""
        if status_word != A.SW_OK or len(header) < 5:
            return
        with self._lock:
            ins = header[1]
            if ins == A.INS_EXTERNAL_AUTHENTICATE:
                self.authenticated, self.last_challenge = header[3], None
            elif ins == A.INS_UPDATE_BINARY and self._current_ef is not None:
                offset = (header[2] << 8) | header[3]
                self.write_ef(self._current_ef, b"\xa5" * header[4], offset)

    @staticmethod
    def volatile_response(command: bytes) -> bool:
        """Is the response data to ``command`` random by design (GET CHALLENGE)? A replay
        then compares its status word only."""
        return len(command) >= 2 and command[1] == A.INS_GET_CHALLENGE

    _HANDLERS: ClassVar[dict[int, Callable[[CardApplication, int, int, bytes, int | None],
                                           bytes]]] = {
        A.INS_SELECT: _select,
        A.INS_READ_BINARY: _read_binary,
        A.INS_UPDATE_BINARY: _update_binary,
        A.INS_GET_CHALLENGE: _get_challenge,
        A.INS_EXTERNAL_AUTHENTICATE: _external_authenticate,
        A.INS_INTERNAL_AUTHENTICATE: _internal_authenticate,
        A.INS_ACTIVATE_FILE: _activate,
    }
