"""The virtual esam-cpu user card: an ISO 7816-4 file system with the commands such cards
answer (docs/card-formats/esam-cpu.md, "The card").

MF ``3F00`` with the card serial (EF ``0005``, written once), the application DF with four
transparent EFs. The card holds four keys dispersed for its serial: ``card-issue`` (opens the
key packages loaded at personalisation; a blank card carries the public one, as a card
factory ships it), ``card-internal`` (INTERNAL AUTHENTICATE and READ BINARY with MAC),
``card-external`` (EXTERNAL AUTHENTICATE, which opens EF 0001, 0002, 0004 for update) and
``card-return`` (the MAC of UPDATE BINARY with MAC, the only way to write the return-write
file EF 0003). Status words per ISO 7816-4.
"""

from __future__ import annotations

import hmac
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

from rig.card.apdu import CardRemovedError
from rig.card_formats.esam_cpu import layout
from rig.errors import CardError
from rig.esam import crypto
from rig.esam.keys import KeyId, KeyState, card_factor, open_package, public_master

# ATR: TS 3B, T0 68 (TB1, TC1, 8 historical bytes), TB1 00, TC1 00, historical "RIGESAM" 01.
ATR = bytes.fromhex("3B680000") + b"RIGESAM\x01"

CLA, CLA_SM = 0x00, 0x04
CLA_KEY = 0x84  # WRITE KEY: proprietary class with secure messaging
INS_SELECT, INS_READ, INS_UPDATE = 0xA4, 0xB0, 0xD6
INS_CHALLENGE, INS_EXTERNAL, INS_INTERNAL, INS_WRITE_KEY = 0x84, 0x82, 0x88, 0xD4
MAX_TRIES = 3

SW_OK = 0x9000
SW_WRONG_LENGTH = 0x6700
SW_SECURITY = 0x6982
SW_BLOCKED = 0x6983
SW_CONDITIONS = 0x6985
SW_NO_EF = 0x6986
SW_SM_INCORRECT = 0x6988
SW_WRONG_DATA = 0x6A80
SW_NOT_FOUND = 0x6A82
SW_WRONG_P1P2 = 0x6A86
SW_KEY_NOT_FOUND = 0x6A88
SW_OFFSET = 0x6B00
SW_INS = 0x6D00
SW_CLA = 0x6E00
SW_UNKNOWN = 0x6F00


def _sw(sw: int, data: bytes = b"") -> bytes:
    return data + sw.to_bytes(2, "big")


def line_mac_input(header: bytes, data: bytes) -> bytes:
    """What an UPDATE BINARY with MAC's MAC covers: CLA INS P1 P2 Lc (Lc counting the MAC)
    and the data."""
    return header + data


class VirtualEsamCpuCard:
    """A card on the emulated bench (a ``VirtualCardApp``). ``process`` never raises; a lock
    keeps two terminals from interleaving commands."""

    atr = ATR

    def __init__(self, files: Mapping[int, bytes] | None = None,
                 keys: Mapping[KeyId, tuple[KeyState, bytes]] | None = None,
                 tries: Mapping[KeyId, int] | None = None,
                 rng: Callable[[int], bytes] = os.urandom) -> None:
        self._lock = threading.RLock()
        self._rng = rng
        self.files = {fid: bytearray(size) for fid, size in layout.EF_SIZES.items()}
        for fid, content in (files or {}).items():
            self.files[fid][:] = content
        self._keys: dict[KeyId, tuple[KeyState, bytes]] = dict(keys or {})
        self.tries = {KeyId.CARD_EXTERNAL: MAX_TRIES, **(tries or {})}
        self.tear_after: int | None = None  # pulled before this many more commands (tests)
        self.reset()

    # -- state -------------------------------------------------------------------------
    def reset(self) -> None:
        """Power cycle: nothing selected, no challenge, no access right."""
        with self._lock:
            self._df = False  # the application DF (else the MF) is current
            self._ef: int | None = None
            self._challenge: bytes | None = None
            self._opened = False  # EXTERNAL AUTHENTICATE succeeded in this session

    power = reset

    @property
    def serial(self) -> bytes | None:
        raw = bytes(self.files[layout.FID_SERIAL])
        return raw if any(raw) else None

    def key_state(self, key_id: KeyId) -> KeyState | None:
        held = self._keys.get(key_id)
        return None if held is None else held[0]

    def _key(self, key_id: KeyId) -> bytes | None:
        held = self._keys.get(key_id)
        return None if held is None else held[1]

    def to_dict(self) -> dict[str, Any]:
        """The card's memory, keys included as hex (the emulated card's secure memory: it
        never leaves the emulated bench, and no trace carries it)."""
        with self._lock:
            return {"format": "esam-cpu",
                    "files": {f"{fid:04X}": bytes(ef).hex() for fid, ef in self.files.items()},
                    "keys": {k.value: [s.value, key.hex()] for k, (s, key) in self._keys.items()},
                    "tries": {k.value: n for k, n in self.tries.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VirtualEsamCpuCard:
        try:
            if data.get("format") != "esam-cpu":
                raise ValueError(f"format {data.get('format')!r}")
            files = {int(fid, 16): bytes.fromhex(v) for fid, v in data["files"].items()}
            for fid, content in files.items():
                if layout.EF_SIZES.get(fid) != len(content):
                    raise ValueError(f"EF {fid:04X} of {len(content)} bytes")
            keys = {KeyId(k): (KeyState(s), bytes.fromhex(v))
                    for k, (s, v) in data.get("keys", {}).items()}
            tries = {KeyId(k): int(n) for k, n in data.get("tries", {}).items()}
        except (KeyError, ValueError, TypeError) as e:
            raise CardError(f"virtual esam-cpu card: not a saved card ({e})") from None
        return cls(files, keys, tries)

    # -- commands ----------------------------------------------------------------------
    def process(self, apdu: bytes) -> bytes:
        with self._lock:
            if self.tear_after is not None:
                if self.tear_after == 0:
                    raise CardRemovedError("virtual esam-cpu card pulled")
                self.tear_after -= 1
            try:
                return self._process(bytes(apdu))
            except Exception:  # a card never crashes the terminal
                return _sw(SW_UNKNOWN)

    def _process(self, raw: bytes) -> bytes:
        if len(raw) < 4:
            return _sw(SW_WRONG_LENGTH)
        cla, ins, p1, p2 = raw[:4]
        data, le = b"", None
        if len(raw) == 5:
            le = raw[4] or 256
        elif len(raw) > 5:
            lc = raw[4]
            if lc == 0 or len(raw) not in (5 + lc, 6 + lc):
                return _sw(SW_WRONG_LENGTH)
            data = raw[5:5 + lc]
            if len(raw) == 6 + lc:
                le = raw[-1] or 256
        handler = {(CLA, INS_SELECT): self._select, (CLA, INS_READ): self._read,
                   (CLA_SM, INS_READ): self._read_mac, (CLA, INS_UPDATE): self._update,
                   (CLA_SM, INS_UPDATE): self._update_mac,
                   (CLA, INS_CHALLENGE): self._get_challenge,
                   (CLA, INS_EXTERNAL): self._external, (CLA, INS_INTERNAL): self._internal,
                   (CLA_KEY, INS_WRITE_KEY): self._write_key}.get((cla, ins))
        if handler is None:
            known_ins = {INS_SELECT, INS_READ, INS_UPDATE, INS_CHALLENGE, INS_EXTERNAL,
                         INS_INTERNAL, INS_WRITE_KEY}
            return _sw(SW_CLA if ins in known_ins else SW_INS)
        return handler(p1, p2, data, le, raw[:5])

    def _select(self, p1: int, p2: int, data: bytes, le: int | None, head: bytes) -> bytes:
        if p1 == 0x04:  # by DF name (AID)
            if data != layout.AID:
                return _sw(SW_NOT_FOUND)
            self._df, self._ef = True, None
            return _sw(SW_OK)
        if p1 in (0x00, 0x02) and len(data) == 2:
            fid = int.from_bytes(data, "big")
            if fid == layout.MF:
                self._df, self._ef = False, None
                return _sw(SW_OK)
            here = layout.DF_FILES if self._df else (layout.FID_SERIAL,)
            if fid not in here:
                return _sw(SW_NOT_FOUND)
            self._ef = fid
            return _sw(SW_OK)
        return _sw(SW_WRONG_P1P2 if data else SW_WRONG_LENGTH)

    def _span(self, p1: int, p2: int, length: int) -> tuple[int, bytearray] | bytes:
        if self._ef is None:
            return _sw(SW_NO_EF)
        if p1 & 0x80:
            return _sw(SW_WRONG_P1P2)
        ef = self.files[self._ef]
        offset = p1 << 8 | p2
        if offset >= len(ef):
            return _sw(SW_OFFSET)
        if offset + length > len(ef):
            return _sw(SW_WRONG_LENGTH)
        return offset, ef

    def _read(self, p1: int, p2: int, data: bytes, le: int | None, head: bytes) -> bytes:
        if data or le is None:
            return _sw(SW_WRONG_LENGTH)
        span = self._span(p1, p2, 1)
        if isinstance(span, bytes):
            return span
        offset, ef = span
        available = len(ef) - offset
        if le > available:
            return _sw(0x6C00 | min(available, 0xFF))
        return _sw(SW_OK, bytes(ef[offset:offset + le]))

    def _read_mac(self, p1: int, p2: int, data: bytes, le: int | None, head: bytes) -> bytes:
        """READ BINARY with MAC: the data, then a MAC under ``card-internal`` with the
        terminal's 4-byte random as IV (the meter's ESAM checks it)."""
        if len(data) != 4 or le is None:
            return _sw(SW_WRONG_LENGTH)
        key = self._key(KeyId.CARD_INTERNAL)
        if key is None:
            return _sw(SW_KEY_NOT_FOUND)
        answer = self._read(p1, p2, b"", le, head)
        if answer[-2:] != _sw(SW_OK):
            return answer
        content = answer[:-2]
        return _sw(SW_OK, content + crypto.mac(key, content, data))

    def _update(self, p1: int, p2: int, data: bytes, le: int | None, head: bytes) -> bytes:
        if not data or le is not None:
            return _sw(SW_WRONG_LENGTH)
        span = self._span(p1, p2, len(data))
        if isinstance(span, bytes):
            return span
        offset, ef = span
        fid = self._ef
        if fid == layout.FID_SERIAL:  # written once, by the issuer
            current = bytes(ef)
            if any(current) and current[offset:offset + len(data)] != data:
                return _sw(SW_CONDITIONS)
        elif fid == layout.FID_RETURN:
            return _sw(SW_SECURITY)  # only with the meter's MAC (04 D6)
        elif self._key(KeyId.CARD_EXTERNAL) is not None and not self._opened:
            return _sw(SW_SECURITY)
        ef[offset:offset + len(data)] = data
        return _sw(SW_OK)

    def _update_mac(self, p1: int, p2: int, data: bytes, le: int | None,
                    head: bytes) -> bytes:
        """UPDATE BINARY with MAC: data, then a 4-byte MAC under ``card-return`` over the
        header and data, IV = the card's last challenge (used once)."""
        if len(data) <= crypto.MAC_LEN or le is not None:
            return _sw(SW_WRONG_LENGTH)
        body, given = data[:-crypto.MAC_LEN], data[-crypto.MAC_LEN:]
        span = self._span(p1, p2, len(body))
        if isinstance(span, bytes):
            return span
        if self._ef != layout.FID_RETURN:
            return _sw(SW_CONDITIONS)
        key = self._key(KeyId.CARD_RETURN)
        if key is None:
            return _sw(SW_KEY_NOT_FOUND)
        challenge, self._challenge = self._challenge, None
        if challenge is None:
            return _sw(SW_CONDITIONS)
        if not crypto.mac_ok(key, line_mac_input(head, body), challenge, given):
            return _sw(SW_SM_INCORRECT)
        offset, ef = span
        ef[offset:offset + len(body)] = body
        return _sw(SW_OK)

    def _get_challenge(self, p1: int, p2: int, data: bytes, le: int | None,
                       head: bytes) -> bytes:
        if p1 or p2:
            return _sw(SW_WRONG_P1P2)
        if data or le not in (4, 8):
            return _sw(SW_WRONG_LENGTH)
        self._challenge = self._rng(le)
        return _sw(SW_OK, self._challenge)

    def _slot(self, p2: int) -> KeyId | None:
        try:
            key_id = KeyId.from_code(p2)
        except crypto.CryptoError:
            return None
        return key_id if key_id in layout.CARD_KEYS else None

    def _external(self, p1: int, p2: int, data: bytes, le: int | None, head: bytes) -> bytes:
        if p1:
            return _sw(SW_WRONG_P1P2)
        if len(data) != 8 or le is not None:
            return _sw(SW_WRONG_LENGTH)
        if self._slot(p2) is not KeyId.CARD_EXTERNAL:
            return _sw(SW_KEY_NOT_FOUND)
        key = self._key(KeyId.CARD_EXTERNAL)
        if key is None:
            return _sw(SW_KEY_NOT_FOUND)
        if self.tries[KeyId.CARD_EXTERNAL] == 0:
            return _sw(SW_BLOCKED)
        challenge, self._challenge = self._challenge, None
        if challenge is None or not self._df:
            return _sw(SW_CONDITIONS)
        if hmac.compare_digest(crypto.cryptogram(key, challenge), data):
            self.tries[KeyId.CARD_EXTERNAL] = MAX_TRIES
            self._opened = True
            return _sw(SW_OK)
        self.tries[KeyId.CARD_EXTERNAL] -= 1
        self._opened = False
        return _sw(0x63C0 | self.tries[KeyId.CARD_EXTERNAL])

    def _internal(self, p1: int, p2: int, data: bytes, le: int | None, head: bytes) -> bytes:
        if p1:
            return _sw(SW_WRONG_P1P2)
        if len(data) != 8 or le != 8:
            return _sw(SW_WRONG_LENGTH)
        key = self._key(KeyId.CARD_INTERNAL) if self._slot(p2) is KeyId.CARD_INTERNAL else None
        if key is None:
            return _sw(SW_KEY_NOT_FOUND)
        return _sw(SW_OK, crypto.cryptogram(key, data))

    def _write_key(self, p1: int, p2: int, data: bytes, le: int | None, head: bytes) -> bytes:
        """WRITE KEY: a key package for slot P2, sealed under the card's ``card-issue``. A
        blank card holds the public card-issue key dispersed for its serial (the factory's)."""
        slot = self._slot(p2)
        if slot is None:
            return _sw(SW_KEY_NOT_FOUND)
        if p1 or not data or le is not None:
            return _sw(SW_WRONG_P1P2 if p1 else SW_WRONG_LENGTH)
        serial = self.serial
        if serial is None:
            return _sw(SW_CONDITIONS)  # the serial first: the keys are dispersed for it
        issue = self._key(KeyId.CARD_ISSUE)
        if issue is None:  # the card factory's transport key
            issue = crypto.disperse(public_master(KeyId.CARD_ISSUE), card_factor(serial.hex()))
        try:
            key_id, state, key = open_package(issue, data)
        except crypto.CryptoError:
            return _sw(SW_SM_INCORRECT)
        if key_id is not slot:
            return _sw(SW_WRONG_DATA)
        self._keys[key_id] = (state, key)
        if key_id is KeyId.CARD_EXTERNAL:
            self.tries[key_id] = MAX_TRIES
        return _sw(SW_OK)

    # -- replays (rig card replay) -------------------------------------------------------
    @staticmethod
    def volatile_response(command: bytes) -> bool:
        """GET CHALLENGE and READ BINARY with MAC answer differently each time by design."""
        return len(command) >= 2 and (command[1] == INS_CHALLENGE or (
            command[0] == CLA_SM and command[1] == INS_READ))


def secret_apdu(apdu: bytes) -> bool:
    """APDUs whose data fields a trace must not keep: key packages (WRITE KEY) and the
    cryptograms (INTERNAL/EXTERNAL AUTHENTICATE; rig's trace redacts those itself)."""
    return len(apdu) > 1 and (apdu[0], apdu[1]) == (CLA_KEY, INS_WRITE_KEY)


class CardSlot:
    """The card in a writer or a meter's slot, in-process (tests, tearing campaigns):
    inserting it powers the card up."""

    name = "in-process slot"

    def __init__(self, card: VirtualEsamCpuCard) -> None:
        self.card = card
        card.reset()

    def transmit(self, apdu: bytes) -> bytes:
        return self.card.process(apdu)
