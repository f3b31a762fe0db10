"""The toy card on the emulated bench: one 128-byte file, three commands, no security.

SELECT ``00 A4 04 00 08 'TOYCARD1'``; READ ``80 B0 P1 P2 Le`` (offset P1P2); WRITE
``80 D0 P1 P2 Lc data``. Status words: 9000, 6A82 (no such application), 6985 (not
selected), 6B00 (outside the file), 6700 (wrong length), 6D00 / 6E00 (unknown INS / CLA).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from rig.card.atr import make_atr
from rig_toycard.layout import AID, FILE_SIZE

ATR = make_atr(b"TOY")


class ToyCard:
    """The virtual toy card (a rig ``VirtualCardApp``)."""

    atr = ATR

    def __init__(self, memory: bytes = bytes(FILE_SIZE)) -> None:
        self.memory = bytearray(memory.ljust(FILE_SIZE, b"\0")[:FILE_SIZE])
        self.selected = False
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self.selected = False

    def process(self, apdu: bytes) -> bytes:
        with self._lock:
            return self._process(bytes(apdu))

    def _process(self, apdu: bytes) -> bytes:
        if len(apdu) < 5:
            return b"\x67\x00"
        cla, ins, p1, p2, p3 = apdu[:5]
        data = apdu[5:]
        if cla == 0x00 and ins == 0xA4:
            if p1 != 0x04 or len(data) != p3:
                return b"\x67\x00"
            self.selected = data == AID
            return b"\x90\x00" if self.selected else b"\x6a\x82"
        if cla != 0x80:
            return b"\x6e\x00"
        if ins not in (0xB0, 0xD0):
            return b"\x6d\x00"
        if not self.selected:
            return b"\x69\x85"
        offset = (p1 << 8) | p2
        if ins == 0xB0:
            length = p3 or 256
            if data or offset + length > FILE_SIZE:
                return b"\x6b\x00" if not data else b"\x67\x00"
            return bytes(self.memory[offset:offset + length]) + b"\x90\x00"
        if len(data) != p3 or not data:
            return b"\x67\x00"
        if offset + len(data) > FILE_SIZE:
            return b"\x6b\x00"
        self.memory[offset:offset + len(data)] = data
        return b"\x90\x00"

    def to_dict(self) -> dict[str, Any]:
        return {"memory": bytes(self.memory).hex()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ToyCard:
        return cls(bytes.fromhex(data["memory"]))
