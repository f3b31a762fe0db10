"""The audit chain's key and where a centre gets it: never from the database it protects.

An event's MAC is HMAC-SHA256 under this key (:mod:`rig.billing.audit`), so someone who can
write the database but not read the centre's configuration cannot re-compute a chain after
editing it. A key file holds 32 random bytes as 64 hex digits (``rig billing audit keygen``
writes one, mode 0600). Only the key's id (a hash of it) is stored with the events and shown;
the key itself is in no repr, log line, record or error message.

Configuration: :class:`AuditConfig` given to :func:`rig.billing.open_billing`, or the
environment — ``$RIG_AUDIT_KEY_FILE`` (the key) and ``$RIG_AUDIT_ANCHOR`` (the file the signed
checkpoints of the chain head go to, :mod:`rig.billing.audit_anchor`).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from rig.errors import ConfigError

KEY_FILE_ENV = "RIG_AUDIT_KEY_FILE"
ANCHOR_ENV = "RIG_AUDIT_ANCHOR"
KEY_BYTES = 32
DEFAULT_CHECKPOINT_EVENTS = 100  # a checkpoint at least every this many events a process writes
DEFAULT_CHECKPOINT_SECONDS = 60.0  # ... or at its first append this long after the last one


class AuditKey:
    """A secret key for the audit chain; ``key_id`` names it, nothing shows the secret."""

    __slots__ = ("_secret", "key_id")

    def __init__(self, secret: bytes) -> None:
        if len(secret) != KEY_BYTES:
            raise ConfigError(f"an audit key is {KEY_BYTES} bytes, not {len(secret)}")
        self._secret = secret
        self.key_id = hashlib.sha256(b"rig-audit-key-id:" + secret).hexdigest()[:16]

    def mac(self, message: bytes) -> str:
        """HMAC-SHA256 of ``message`` under this key, hex."""
        return hmac.digest(self._secret, message, "sha256").hex()

    def __repr__(self) -> str:
        return f"AuditKey(id={self.key_id})"

    @classmethod
    def generate(cls) -> AuditKey:
        return cls(secrets.token_bytes(KEY_BYTES))

    @classmethod
    def from_file(cls, path: str | Path) -> AuditKey:
        """The key in ``path`` (64 hex digits); a clear :class:`ConfigError` naming the file
        otherwise (the error never quotes the file's content)."""
        where = Path(path)
        try:
            text = where.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            raise ConfigError(f"audit key file {where} does not exist (create one with "
                              f"`rig billing audit keygen {where}`)") from None
        except (OSError, UnicodeDecodeError) as e:
            reason = e.strerror if isinstance(e, OSError) else "not ASCII text"
            raise ConfigError(f"audit key file {where} cannot be read: {reason}") from None
        try:
            secret = bytes.fromhex(text)
        except ValueError:
            secret = b""
        if len(secret) != KEY_BYTES:
            raise ConfigError(f"audit key file {where} must hold {KEY_BYTES * 2} hex digits "
                              f"({KEY_BYTES} bytes) on one line")
        return cls(secret)

    def write(self, path: str | Path) -> None:
        """Write this key to a new file ``path``, readable by its owner only."""
        where = Path(path)
        try:
            fd = os.open(where, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise ConfigError(f"audit key file {where} already exists; not overwritten "
                              "(a chain signed with it could no longer be verified)") from None
        except OSError as e:
            raise ConfigError(f"cannot create audit key file {where}: {e.strerror}") from None
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(self._secret.hex() + "\n")


@dataclass(frozen=True)
class AuditConfig:
    """How a centre signs and anchors its audit chain.

    ``key`` None: the centre writes unkeyed (legacy, SHA-256 only) events, which anyone can
    recompute; verification says so. ``anchor`` needs a key (checkpoints are signed with it).
    """

    key: AuditKey | None = None
    anchor: Path | None = None
    checkpoint_events: int = DEFAULT_CHECKPOINT_EVENTS
    checkpoint_seconds: float = DEFAULT_CHECKPOINT_SECONDS
    source: str = field(default="", compare=False)  # where it came from, for messages

    def __post_init__(self) -> None:
        if self.anchor is not None and self.key is None:
            raise ConfigError(f"audit anchor {self.anchor} needs an audit key to sign its "
                              f"checkpoints (set ${KEY_FILE_ENV})")
        if self.checkpoint_events < 1 or not self.checkpoint_seconds > 0:
            raise ConfigError("audit checkpoints need a positive event count and interval")

    @classmethod
    def from_files(cls, key_file: str | Path | None, anchor: str | Path | None,
                   **kwargs: float) -> AuditConfig:
        key = AuditKey.from_file(key_file) if key_file else None
        return cls(key, Path(anchor) if anchor else None, **kwargs)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls) -> AuditConfig:
        """``$RIG_AUDIT_KEY_FILE`` and ``$RIG_AUDIT_ANCHOR`` (either may be unset)."""
        return cls.from_files(os.environ.get(KEY_FILE_ENV) or None,
                              os.environ.get(ANCHOR_ENV) or None)
