"""ISO 7816-4 command APDUs of the rig card application, status words and card errors.

The builders here are the single place where command bytes are spelled out, so the terminal
side (vending station, meter firmware), the traces and the tests all agree byte for byte.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from rig.errors import CardError

# --- application identity -------------------------------------------------------------------

AID = bytes.fromhex("F0524947505001")  # proprietary RID F0 + "RIGPP" + application version 01

CLA = 0x00
INS_SELECT = 0xA4
INS_READ_BINARY = 0xB0
INS_UPDATE_BINARY = 0xD6
INS_GET_CHALLENGE = 0x84
INS_EXTERNAL_AUTHENTICATE = 0x82
INS_INTERNAL_AUTHENTICATE = 0x88
INS_ACTIVATE_FILE = 0x44

# Instructions whose data fields are secrets (cryptograms): never written to a trace.
SECRET_INS = frozenset({INS_EXTERNAL_AUTHENTICATE, INS_INTERNAL_AUTHENTICATE})

# --- status words ---------------------------------------------------------------------------

SW_OK = 0x9000
SW_WRONG_LENGTH = 0x6700
SW_SECURITY_NOT_SATISFIED = 0x6982
SW_AUTH_METHOD_BLOCKED = 0x6983
SW_WRONG_CRYPTOGRAM = 0x6300  # 63Cx when x tries remain
SW_CONDITIONS_NOT_SATISFIED = 0x6985
SW_NO_EF_SELECTED = 0x6986
SW_WRONG_DATA = 0x6A80
SW_FILE_NOT_FOUND = 0x6A82
SW_REF_DATA_NOT_FOUND = 0x6A88
SW_WRONG_P1P2 = 0x6A86
SW_WRONG_OFFSET = 0x6B00
SW_INS_NOT_SUPPORTED = 0x6D00
SW_CLA_NOT_SUPPORTED = 0x6E00
SW_UNKNOWN = 0x6F00

SW_MEANINGS: dict[int, str] = {
    SW_OK: "success",
    SW_WRONG_LENGTH: "wrong length",
    SW_SECURITY_NOT_SATISFIED: "security status not satisfied",
    SW_AUTH_METHOD_BLOCKED: "authentication method blocked",
    SW_WRONG_CRYPTOGRAM: "verification failed (wrong cryptogram)",
    SW_CONDITIONS_NOT_SATISFIED: "conditions of use not satisfied",
    SW_NO_EF_SELECTED: "command not allowed (no EF selected)",
    SW_WRONG_DATA: "incorrect data field",
    SW_FILE_NOT_FOUND: "file not found",
    SW_REF_DATA_NOT_FOUND: "referenced data (key) not found",
    SW_WRONG_P1P2: "incorrect P1-P2",
    SW_WRONG_OFFSET: "wrong parameters (offset outside the EF)",
    SW_INS_NOT_SUPPORTED: "instruction not supported",
    SW_CLA_NOT_SUPPORTED: "class not supported",
    SW_UNKNOWN: "no precise diagnosis",
}


def sw_meaning(sw: int) -> str:
    """Human words for a status word (6Cxx carries the exact Le the card wants)."""
    if sw >> 8 == 0x6C:
        return f"wrong Le, exact length is {sw & 0xFF}"
    if sw & 0xFFF0 == 0x63C0:
        return f"wrong cryptogram, {sw & 0x0F} tries left"
    if sw >> 8 == 0x61:
        return f"{sw & 0xFF} response bytes still available"
    return SW_MEANINGS.get(sw, "unknown status")


# --- errors ---------------------------------------------------------------------------------


class NoReaderError(CardError):
    """The requested PC/SC reader is not present (message lists the readers that are)."""


class NoCardError(CardError):
    """No card arrived in the reader within the timeout."""


class CardRemovedError(CardError):
    """The card left the reader while an APDU was being exchanged."""


class CardNotGenuineError(CardError):
    """The card's INTERNAL AUTHENTICATE answer is wrong: it does not hold the key it should
    (a copy of a card's readable files, or a card of another issuer)."""


class StatusWordError(CardError):
    """The card answered an APDU with a status word other than 9000."""

    def __init__(self, apdu_name: str, sw1: int, sw2: int, header: bytes = b"") -> None:
        self.apdu_name = apdu_name
        self.sw1 = sw1
        self.sw2 = sw2
        self.header = header  # CLA INS P1 P2 P3 of the command, if the sender gave it
        sw = (sw1 << 8) | sw2
        super().__init__(f"{apdu_name}: SW {sw:04X} {sw_meaning(sw)}")

    @property
    def sw(self) -> int:
        return (self.sw1 << 8) | self.sw2


class RecordError(CardError):
    """A card record cannot be encoded/decoded: names the record and the field."""

    def __init__(self, record: str, field: str, problem: str) -> None:
        self.record = record
        self.field = field
        self.problem = problem
        super().__init__(f"{record}.{field}: {problem}")


class MacError(CardError):
    """A record's MAC does not verify under the given key (tampered, wrong meter, wrong key)."""


# --- command APDUs --------------------------------------------------------------------------


@dataclass(frozen=True)
class CommandApdu:
    """A short-length command APDU with the readable name used in errors and traces.

    ``secret`` marks commands whose data fields (and response data) must never be logged.
    """

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None  # None = no Le field; 256 is encoded as 00
    name: str = ""
    secret: bool = False

    def __post_init__(self) -> None:
        if len(self.data) > 255:
            raise ValueError(f"{self.name or 'APDU'}: data field {len(self.data)} > 255 bytes")
        if self.le is not None and not 1 <= self.le <= 256:
            raise ValueError(f"{self.name or 'APDU'}: Le {self.le} outside 1..256")
        out = bytes([self.cla, self.ins, self.p1, self.p2])
        if self.data:
            out += bytes([len(self.data)]) + self.data
        if self.le is not None:
            out += bytes([self.le & 0xFF])
        object.__setattr__(self, "_raw", out)  # encoded once: sent, traced, maybe resent

    def to_bytes(self) -> bytes:
        return self._raw  # type: ignore[attr-defined, no-any-return]

    @property
    def is_secret(self) -> bool:
        return self.secret or self.ins in SECRET_INS


# The commands a terminal sends again and again (SELECT, READ BINARY, GET CHALLENGE, ACTIVATE)
# carry no data of their own: each is built once and reused (they are immutable). Commands with
# data (UPDATE BINARY, the AUTHENTICATEs, whose cryptograms are secrets) are never kept.
_reused = functools.lru_cache(maxsize=512)


@_reused
def select_aid(aid: bytes = AID) -> CommandApdu:
    """SELECT by DF name (00 A4 04 00 Lc AID): selects the application, no FCI returned."""
    return CommandApdu(CLA, INS_SELECT, 0x04, 0x00, aid, name=f"SELECT AID {aid.hex().upper()}")


@_reused
def select_ef(fid: int) -> CommandApdu:
    """SELECT EF by file identifier (00 A4 02 0C 02 FID), no response data."""
    _check_fid(fid)
    return CommandApdu(
        CLA, INS_SELECT, 0x02, 0x0C, fid.to_bytes(2, "big"), name=f"SELECT EF {fid:04X}"
    )


@_reused
def read_binary(offset: int, le: int, fid: int | None = None) -> CommandApdu:
    """READ BINARY (00 B0 P1P2=offset Le) from the currently selected EF."""
    _check_offset(offset)
    where = f" EF {fid:04X}" if fid is not None else ""
    return CommandApdu(
        CLA, INS_READ_BINARY, offset >> 8, offset & 0xFF, le=le,
        name=f"READ BINARY{where} offset {offset}",
    )


def update_binary(offset: int, data: bytes, fid: int | None = None,
                  secret: bool = False) -> CommandApdu:
    """UPDATE BINARY (00 D6 P1P2=offset Lc data) into the currently selected EF.

    ``secret`` (key loading) keeps the data field out of every trace.
    """
    _check_offset(offset)
    if not data:
        raise ValueError("UPDATE BINARY needs at least one data byte")
    where = f" EF {fid:04X}" if fid is not None else ""
    return CommandApdu(
        CLA, INS_UPDATE_BINARY, offset >> 8, offset & 0xFF, bytes(data),
        name=f"UPDATE BINARY{where} offset {offset}", secret=secret,
    )


@_reused
def get_challenge(le: int = 8) -> CommandApdu:
    """GET CHALLENGE (00 84 00 00 08): 8 random bytes for a later authentication."""
    return CommandApdu(CLA, INS_GET_CHALLENGE, 0x00, 0x00, le=le, name="GET CHALLENGE")


def external_authenticate(key_ref: int, cryptogram: bytes) -> CommandApdu:
    """EXTERNAL AUTHENTICATE (00 82 00 keyref 08 cryptogram): the terminal proves it holds the
    key ``key_ref`` by MACing the card's last challenge. Always redacted in traces."""
    if not 0 < key_ref <= 0xFF:
        raise ValueError(f"key reference {key_ref} outside 1..255")
    return CommandApdu(CLA, INS_EXTERNAL_AUTHENTICATE, 0x00, key_ref, bytes(cryptogram),
                       name=f"EXTERNAL AUTHENTICATE key {key_ref:02X}", secret=True)


def internal_authenticate(key_ref: int, challenge: bytes) -> CommandApdu:
    """INTERNAL AUTHENTICATE (00 88 00 keyref 08 RND.IFD 08): the card proves it holds the key
    ``key_ref`` by MACing the terminal's challenge (a genuine card, not a copy of its files).
    Always redacted in traces."""
    if not 0 < key_ref <= 0xFF:
        raise ValueError(f"key reference {key_ref} outside 1..255")
    if len(challenge) != 8:
        raise ValueError(f"INTERNAL AUTHENTICATE challenge must be 8 bytes, got {len(challenge)}")
    return CommandApdu(CLA, INS_INTERNAL_AUTHENTICATE, 0x00, key_ref, bytes(challenge), le=8,
                       name=f"INTERNAL AUTHENTICATE key {key_ref:02X}", secret=True)


@_reused
def activate_application() -> CommandApdu:
    """ACTIVATE FILE (00 44 00 00) on the selected application: personalisation → operational."""
    return CommandApdu(CLA, INS_ACTIVATE_FILE, 0x00, 0x00, name="ACTIVATE FILE application")


_INS_NAMES = {
    INS_SELECT: "SELECT",
    INS_READ_BINARY: "READ BINARY",
    INS_UPDATE_BINARY: "UPDATE BINARY",
    INS_GET_CHALLENGE: "GET CHALLENGE",
    INS_EXTERNAL_AUTHENTICATE: "EXTERNAL AUTHENTICATE",
    INS_INTERNAL_AUTHENTICATE: "INTERNAL AUTHENTICATE",
    INS_ACTIVATE_FILE: "ACTIVATE FILE",
}


def describe(apdu: bytes) -> str:
    """Best-effort readable name of raw command bytes (for traces of APDUs built elsewhere)."""
    if len(apdu) < 4:
        return f"short APDU ({len(apdu)} bytes)"
    ins = apdu[1]
    name = _INS_NAMES.get(ins, f"INS {ins:02X}")
    if ins in (INS_READ_BINARY, INS_UPDATE_BINARY):
        name += f" offset {(apdu[2] << 8) | apdu[3]}"
    elif ins == INS_SELECT and apdu[2] == 0x02 and len(apdu) >= 7:
        name += f" EF {apdu[5]:02X}{apdu[6]:02X}"
    elif ins == INS_SELECT and apdu[2] == 0x04 and len(apdu) > 5:
        name += f" AID {apdu[5:5 + apdu[4]].hex().upper()}"
    return name


def split_response(response: bytes) -> tuple[bytes, int, int]:
    """(data, sw1, sw2) of an R-APDU; a response shorter than 2 bytes is a card fault."""
    if len(response) < 2:
        raise CardError(f"card returned {len(response)} response bytes, no status word")
    return bytes(response[:-2]), response[-2], response[-1]


def _check_fid(fid: int) -> None:
    if not 0 <= fid <= 0xFFFF:
        raise ValueError(f"FID {fid} outside 0000..FFFF")


def _check_offset(offset: int) -> None:
    if not 0 <= offset <= 0x7FFF:
        raise ValueError(f"offset {offset} outside 0..32767 (P1 bit 8 is reserved for SFI)")
