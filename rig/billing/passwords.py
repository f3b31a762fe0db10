"""Operator passwords for the console: salted scrypt (``hashlib``), compared in constant time.

Only the encoded hash is ever stored; the password itself is never logged, audited or kept.
The encoding carries its own parameters, so they can be raised later without breaking
existing hashes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

N, R, P, DKLEN = 2**14, 8, 1, 32
MIN_LENGTH = 8
SCHEME = "scrypt"


class PasswordPolicyError(ValueError):
    """The new password is too weak to be accepted."""


def read_new_password() -> str:
    """A new password from the operator: asked twice without echo on a terminal, else one
    line of stdin. Never an argument, so it stays out of shell history and process lists."""
    import getpass
    import sys

    if sys.stdin.isatty():
        first = getpass.getpass("New password: ")
        if getpass.getpass("Again: ") != first:
            raise PasswordPolicyError("the two passwords differ; nothing changed")
        return first
    return sys.stdin.readline().rstrip("\n")


def check_policy(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise PasswordPolicyError(f"a password needs at least {MIN_LENGTH} characters")
    if password.strip() != password:
        raise PasswordPolicyError("a password must not start or end with spaces")


def _kdf(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p,
                          maxmem=128 * r * n * 2, dklen=dklen)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash`` (base64) of ``password`` under a fresh random salt."""
    check_policy(password)
    salt = secrets.token_bytes(16)
    digest = _kdf(password, salt, N, R, P, DKLEN)
    return f"{SCHEME}${N}${R}${P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    """True iff ``password`` hashes to ``encoded``; a malformed hash never verifies."""
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != SCHEME:
            return False
        expected = base64.b64decode(digest)
        actual = _kdf(password, base64.b64decode(salt), int(n), int(r), int(p), len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)
