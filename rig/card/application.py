"""Card-side application: the card's file system and APDU processor (pure, no I/O).

Both the virtual card on vpcd and the emulated meter's in-process card slot run this same
object, so a card written by the vending station over PC/SC is byte-identical to what the meter
firmware reads. Behaviour and status words are specified in docs/card-spec.md.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from rig.card import apdu as A
from rig.card.records import CardInfo, PurchaseRecord, ReadbackRecord, TariffRecord

# EF file identifiers (transparent EFs under the application DF) and their fixed sizes.
FID_CARD_INFO = 0x0101
FID_PURCHASE = 0x0102
FID_TARIFF = 0x0103
FID_READBACK = 0x0104

EF_NAMES: dict[int, str] = {
    FID_CARD_INFO: "CARD_INFO",
    FID_PURCHASE: "PURCHASE",
    FID_TARIFF: "TARIFF",
    FID_READBACK: "READBACK",
}
# Each EF is the record size rounded up with spare room for a later format version.
EF_SIZES: dict[int, int] = {
    FID_CARD_INFO: 32,
    FID_PURCHASE: 48,
    FID_TARIFF: 48,
    FID_READBACK: 96,
}
EF_RECORDS = {
    FID_CARD_INFO: CardInfo,
    FID_PURCHASE: PurchaseRecord,
    FID_TARIFF: TariffRecord,
    FID_READBACK: ReadbackRecord,
}
for _fid, _rec in EF_RECORDS.items():
    assert EF_SIZES[_fid] >= _rec.SIZE


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
    """ISO 7816-4 application 'RIGPP' with four transparent EFs.

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

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly snapshot of the card memory (selection state is volatile, not kept)."""
        with self._lock:
            return {"efs": {f"{fid:04X}": bytes(ef).hex() for fid, ef in self._files.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CardApplication:
        files = {int(fid, 16): bytes.fromhex(content) for fid, content in data["efs"].items()}
        return cls(files)

    # --- APDU processing --------------------------------------------------------------------

    def reset(self) -> None:
        """Power-on / warm reset: nothing selected, challenge forgotten; EF contents stay."""
        with self._lock:
            self._app_selected = False
            self._current_ef = None
            self.last_challenge = None

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
        ef[offset:offset + len(cmd.data)] = cmd.data
        return _sw(A.SW_OK)

    def _get_challenge(self, cmd: _Parsed) -> bytes:
        if cmd.p1 or cmd.p2:
            return _sw(A.SW_WRONG_P1P2)
        if cmd.data or cmd.le != 8:
            return _sw(A.SW_WRONG_LENGTH)
        self.last_challenge = self._rng(8)
        return _sw(A.SW_OK, self.last_challenge)

    _HANDLERS: ClassVar[dict[int, Callable[[CardApplication, _Parsed], bytes]]] = {
        A.INS_SELECT: _select,
        A.INS_READ_BINARY: _read_binary,
        A.INS_UPDATE_BINARY: _update_binary,
        A.INS_GET_CHALLENGE: _get_challenge,
    }
