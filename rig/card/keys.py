"""Card keys: the lab master key and per-meter key derivation (AES-128, `cryptography` only).

Design rule: key bytes never reach a log, trace, report or exception message. `MasterKey`
therefore only ever prints a short non-reversible id (first 4 bytes of SHA-256 of the key).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from importlib.resources import files
from pathlib import Path

from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.kdf.kbkdf import KBKDFCMAC, CounterLocation, Mode
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from rig.errors import CardError, ConfigError

KEY_LEN = 16
MAC_LEN = 8
KDF_LABEL = b"RIG-METER"
CARD_KDF_LABEL = b"RIG-CARD"
READBACK_KDF_LABEL = b"RIG-READBACK"
METER_READBACK_KDF_LABEL = b"RIG-METER-READBACK"  # the readback hierarchy (centre's key service)
READBACK_MAC_KDF_LABEL = b"RIG-READBACK-MAC"
AUTH_LABEL = b"RIG-EXT-AUTH"
INTERNAL_AUTH_LABEL = b"RIG-INT-AUTH"  # another label: no card answer is a terminal proof
DEFAULT_KEY_ENV = "RIG_MASTER_KEY"
READBACK_KEY_ENV = "RIG_READBACK_KEY"  # the readback master of emulated meters and the centre
# The lab test key ships with rig (package data) and is public: its id marks every key that
# must never meet a production card, whichever file or variable it was loaded from.
LAB_TEST_KEY_FILE = "lab-master.key"
LAB_READBACK_KEY_FILE = "lab-readback.key"
LAB_TEST_KEY_ID = "71e6d690"
PUBLIC_TEST_KEY = "public test key"


class KeyLoadError(ConfigError, CardError):
    """A key file or variable has bad content (the message names the source, never the bytes)."""


def key_id(key: bytes) -> str:
    """Short, non-reversible key fingerprint: hex of the first 4 bytes of SHA-256(key)."""
    return hashlib.sha256(key).digest()[:4].hex()


class MasterKey:
    """The issuer master key (AES-128) from which every meter key is derived."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes | bytearray) or len(key) != KEY_LEN:
            raise KeyLoadError(f"master key must be {KEY_LEN} bytes")
        self._key = bytes(key)

    @property
    def key_id(self) -> str:
        return key_id(self._key)

    @property
    def is_public_test_key(self) -> bool:
        """Is this rig's public lab test key (from any source)?"""
        return self.key_id == LAB_TEST_KEY_ID

    @property
    def label(self) -> str:
        """The key id, marked when it is the public test key: what records show."""
        return f"{self.key_id} ({PUBLIC_TEST_KEY})" if self.is_public_test_key else self.key_id

    def secret_bytes(self) -> bytes:
        """The raw key, named so that every use site is easy to audit."""
        return self._key

    def __repr__(self) -> str:
        return f"MasterKey(<redacted>, id={self.label})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MasterKey) and hmac.compare_digest(self._key, other._key)

    def __hash__(self) -> int:
        return hash(("MasterKey", self.key_id))

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("MasterKey is not picklable (keys stay in memory of one process)")

    @classmethod
    def from_hex(cls, text: str, source: str = "hex text") -> MasterKey:
        """Parse hex; whitespace anywhere, and lines starting with '#', are ignored."""
        lines = [ln.split("#", 1)[0] for ln in text.splitlines()]
        compact = "".join("".join(lines).split())
        try:
            raw = bytes.fromhex(compact)
        except ValueError:
            raise KeyLoadError(f"{source}: master key is not valid hex") from None
        if len(raw) != KEY_LEN:
            raise KeyLoadError(
                f"{source}: master key must be {KEY_LEN} bytes ({2 * KEY_LEN} hex digits), "
                f"got {len(raw)} bytes"
            )
        return cls(raw)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> MasterKey:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise KeyLoadError(f"key file {p}: cannot read ({type(exc).__name__})") from None
        return cls.from_hex(text, source=f"key file {p}")

    @classmethod
    def from_env(cls, var: str = DEFAULT_KEY_ENV) -> MasterKey:
        text = os.environ.get(var)
        if text is None or not text.strip():
            raise KeyLoadError(f"environment variable {var} is not set")
        return cls.from_hex(text, source=f"environment variable {var}")


def lab_test_key() -> MasterKey:
    """rig's public lab test key, read from the installed package: for emulated benches,
    tests and lab benches whose config says `lab_test_key = true`, never a production card."""
    return _package_key(LAB_TEST_KEY_FILE, "lab test key")


def lab_readback_test_key() -> MasterKey:
    """rig's public lab readback master (package data beside the lab test key): the readback
    hierarchy emulated meters are made with; it proves nothing on a real bench."""
    return _package_key(LAB_READBACK_KEY_FILE, "lab readback test key")


def lab_readback_key() -> MasterKey:
    """The readback master emulated meters are 'manufactured' with: $RIG_READBACK_KEY, else
    the public lab test file. A set but malformed variable is an error naming it."""
    if os.environ.get(READBACK_KEY_ENV, "").strip():
        return MasterKey.from_env(READBACK_KEY_ENV)
    return lab_readback_test_key()


def _package_key(name: str, what: str) -> MasterKey:
    resource = files("rig") / "data" / "keys" / name
    try:
        text = resource.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyLoadError(f"rig's {what} (package data {name}): cannot read "
                           f"({type(exc).__name__}); reinstall rig") from None
    return MasterKey.from_hex(text, source=f"rig's {what} ({PUBLIC_TEST_KEY})")


def bcd_meter_no(meter_no: str) -> bytes:
    """12-digit meter number → 6 bytes packed BCD (first digit in the high nibble)."""
    if len(meter_no) != 12 or not meter_no.isascii() or not meter_no.isdigit():
        raise ValueError(f"meter number must be 12 decimal digits, got {meter_no!r}")
    return bytes.fromhex(meter_no)


def _kbkdf(key: bytes, label: bytes, context: bytes) -> bytes:
    """NIST SP 800-108 KDF in counter mode, PRF = AES-CMAC, one 128-bit block:
    CMAC(key, [1]_32 || label || 0x00 || context || [128]_32)."""
    kdf = KBKDFCMAC(
        algorithm=algorithms.AES,
        mode=Mode.CounterMode,
        length=KEY_LEN,
        rlen=4,
        llen=4,
        location=CounterLocation.BeforeFixed,
        label=label,
        context=context,
        fixed=None,
    )
    return kdf.derive(key)


def _check_revision(key_revision: int) -> None:
    if not 0 <= key_revision <= 0xFF:
        raise ValueError(f"key revision {key_revision} outside 0..255")


def _serial_bytes(card_serial: str) -> bytes:
    try:
        raw = bytes.fromhex(card_serial)
    except ValueError:
        raw = b""
    if len(raw) != 8:
        raise ValueError(f"card serial must be 16 hex digits, got {card_serial!r}")
    return raw


def derive_meter_key(master: MasterKey, meter_no: str, key_revision: int) -> bytes:
    """Per-meter AES-128 key: KBKDF(master, "RIG-METER", BCD(meter_no) || key_revision).

    Binding to the meter number means one cracked meter reveals nothing about its neighbours;
    the revision lets the utility roll keys with a KEY_CHANGE card.
    """
    _check_revision(key_revision)
    return _kbkdf(master.secret_bytes(), KDF_LABEL,
                  bcd_meter_no(meter_no) + bytes([key_revision]))


def derive_card_key(master: MasterKey, card_serial: str, key_revision: int) -> bytes:
    """Card key 01 (write access for the vending station): KBKDF(master, "RIG-CARD",
    serial || key_revision). Only the billing centre, which holds the master key, has it."""
    _check_revision(key_revision)
    return _kbkdf(master.secret_bytes(), CARD_KDF_LABEL,
                  _serial_bytes(card_serial) + bytes([key_revision]))


def derive_readback_key(meter_key: bytes, card_serial: str) -> bytes:
    """Card key 02 (the meter's right to write READBACK): KBKDF(K_meter, "RIG-READBACK",
    serial). The bound meter derives it from its own key; no meter ever holds the master key."""
    if len(meter_key) != KEY_LEN:
        raise ValueError(f"meter key must be {KEY_LEN} bytes")
    return _kbkdf(meter_key, READBACK_KDF_LABEL, _serial_bytes(card_serial))


def derive_meter_readback_key(readback_master: MasterKey, meter_no: str) -> bytes:
    """The meter's own readback key: KBKDF(K_readback_master, "RIG-METER-READBACK", BCD(meter_no)).

    A second key hierarchy, apart from the issuer master key: the billing centre's key service
    holds its master and the meter is given its own key at manufacture; no vending station
    holds either, so a station (which holds the issuer master) cannot MAC a readback.
    """
    return _kbkdf(readback_master.secret_bytes(), METER_READBACK_KDF_LABEL,
                  bcd_meter_no(meter_no))


def derive_readback_mac_key(meter_readback_key: bytes, key_revision: int) -> bytes:
    """The key a meter MACs its readback record with: KBKDF(K_meter_readback,
    "RIG-READBACK-MAC", key_revision). It follows the meter-key revision, so a KEY_CHANGE
    card's readback (MAC'd at the new revision) proves the change to the billing centre."""
    if len(meter_readback_key) != KEY_LEN:
        raise ValueError(f"meter readback key must be {KEY_LEN} bytes")
    _check_revision(key_revision)
    return _kbkdf(meter_readback_key, READBACK_MAC_KDF_LABEL, bytes([key_revision]))


def auth_cryptogram(key: bytes, challenge: bytes, card_serial: bytes, key_ref: int) -> bytes:
    """EXTERNAL AUTHENTICATE data: CMAC(K, "RIG-EXT-AUTH" || RND.ICC || serial || ref)[:8]."""
    return mac(key, AUTH_LABEL + challenge + card_serial + bytes([key_ref]))


def internal_auth_cryptogram(key: bytes, challenge: bytes, card_serial: bytes,
                             key_ref: int) -> bytes:
    """INTERNAL AUTHENTICATE answer: CMAC(K, "RIG-INT-AUTH" || RND.IFD || serial || ref)[:8].

    The label differs from EXTERNAL AUTHENTICATE's so a card's answer to a terminal's challenge
    can never be replayed to the card as the terminal's own proof (reflection).
    """
    return mac(key, INTERNAL_AUTH_LABEL + challenge + card_serial + bytes([key_ref]))


def wrap_key(kek: bytes, key: bytes) -> bytes:
    """RFC 3394 AES key wrap (24 bytes for a 16-byte key): how a KEY_CHANGE card carries the
    meter's new key under its current one."""
    return aes_key_wrap(kek, key)


def unwrap_key(kek: bytes, wrapped: bytes) -> bytes | None:
    """Inverse of `wrap_key`; None if the integrity check fails (wrong key or tampering)."""
    try:
        return aes_key_unwrap(kek, wrapped)
    except (InvalidUnwrap, ValueError):
        return None


def cmac_aes(key: bytes, data: bytes) -> bytes:
    """Full 16-byte AES-CMAC (RFC 4493)."""
    c = cmac.CMAC(algorithms.AES(key))
    c.update(data)
    return c.finalize()


def mac(key: bytes, data: bytes) -> bytes:
    """Record MAC: AES-CMAC truncated to its first 8 bytes (SP 800-38B allows ≥ 64 bits)."""
    return cmac_aes(key, data)[:MAC_LEN]


def mac_matches(key: bytes, data: bytes, tag: bytes) -> bool:
    """Constant-time comparison so a MAC check leaks nothing through timing."""
    return hmac.compare_digest(mac(key, data), tag)
