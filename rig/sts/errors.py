"""STS errors: each names the token, key or field at fault in one line."""

from __future__ import annotations

from rig.errors import RigError


class StsError(RigError):
    """A token, decoder key or meter identity that STS cannot use."""


class TokenCrcError(StsError):
    """The token decrypted but its CRC does not match: a typing error or another meter's key."""
