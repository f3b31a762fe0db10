"""REST API bearer tokens: minted here, stored only as a SHA-256 of the secret.

A token is 256 random bits, so a plain (unsalted, fast) hash is enough: nobody can brute-force
it, and the hash is a unique lookup key. The secret itself exists only in the reply that
created it; the database, the audit log and every repr see the hash or the token id.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from rig.billing import models as m
from rig.billing.types import ApiTokenInfo, OperatorRole

PREFIX = "rig_"


def new_secret() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def info(row: m.ApiToken) -> ApiTokenInfo:
    return ApiTokenInfo(
        token_id=row.id,
        operator=row.operator.name,
        role=OperatorRole(row.operator.role),
        label=row.label,
        created_at=row.created_at,
        created_by=row.created_by,
        revoked_at=row.revoked_at,
        expires_at=row.expires_at,
        stations=tuple(row.stations or ()),
    )


def mint(s: Session, operator: m.Operator, *, label: str, actor: str, at: datetime,
         expires_at: datetime | None = None,
         stations: tuple[str, ...] = ()) -> tuple[m.ApiToken, str]:
    secret = new_secret()
    row = m.ApiToken(operator=operator, label=label, token_hash=token_hash(secret),
                     created_at=at, created_by=actor, expires_at=expires_at,
                     stations=list(stations) or None)
    s.add(row)
    s.flush()
    return row, secret


def live_token(s: Session, secret: str, now: datetime) -> m.ApiToken | None:
    """The unrevoked, unexpired token whose secret this is, or None."""
    if not secret.startswith(PREFIX):
        return None
    return s.scalar(select(m.ApiToken).where(
        m.ApiToken.token_hash == token_hash(secret), m.ApiToken.revoked_at.is_(None),
        or_(m.ApiToken.expires_at.is_(None), m.ApiToken.expires_at > now)))
