"""Access: operators, their roles, console passwords and REST API tokens.

Every other area asks this one who an operator is and whether their role allows an operation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rig.billing import models as m
from rig.billing import passwords, tokens
from rig.billing.centre.errors import Conflict, NotFound, PermissionDenied
from rig.billing.centre.lookup import enum_value, row_id
from rig.billing.centre.rows import operator_info
from rig.billing.centre.uow import UnitOfWork
from rig.billing.models import to_utc
from rig.billing.types import ApiTokenInfo, IssuedToken, OperatorInfo, OperatorRole, TokenHolder
from rig.errors import BillingError

# Verified against when a login names nobody, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = "scrypt$16384$8$1$" + "A" * 22 + "==$" + "A" * 43 + "="


def stamp(password_hash: str) -> str:
    """A fingerprint of a stored password hash: new for every new password (fresh salt)."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:32]


class Access:
    """Who may do what: operators, roles, passwords and API tokens."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    # -- roles (inside the caller's transaction) ------------------------------------------------

    def operator(self, s: Session, name: str) -> m.Operator:
        row = s.scalar(select(m.Operator).where(m.Operator.name == name))
        if row is None:
            raise NotFound(f"operator {name!r} is not registered")
        return row

    def require_role(self, s: Session, name: str, what: str, *,
                     allow_system: bool = False) -> m.Operator:
        """The operator ``name``, who must be a supervisor or an administrator to do ``what``."""
        if allow_system and name == "system":
            return None  # type: ignore[return-value]
        row = self.operator(s, name)
        if row.role == OperatorRole.CASHIER.value:
            raise PermissionDenied(f"operator {name!r} is a cashier and may not {what}")
        return row

    def require_administrator(self, s: Session, name: str, what: str) -> m.Operator:
        row = self.operator(s, name)
        if row.role != OperatorRole.ADMINISTRATOR.value:
            raise PermissionDenied(f"operator {name!r} is a {row.role}; only an administrator "
                                   f"may {what}")
        return row

    # -- operators and passwords ----------------------------------------------------------------

    def register_operator(self, name: str, role: OperatorRole | str, *,
                          actor: str = "system") -> OperatorInfo:
        checked: OperatorRole = enum_value(OperatorRole, role, "operator role")
        try:
            with self.uow.transaction("register_operator") as s:
                row = m.Operator(name=name, role=checked.value)
                s.add(row)
                s.flush()
                info = operator_info(row)
                self.uow.audit(s, actor, "operator.register", "operator", row.id, None, info)
                return info
        except IntegrityError:
            raise Conflict(f"operator {name!r} already exists") from None

    def set_password(self, operator: str, password: str, *, actor: str = "system") -> None:
        """Set ``operator``'s console password (an administrator, or the operator itself).

        Only the salted hash is stored; the audit log records that it changed, nothing more.
        """
        try:
            encoded = passwords.hash_password(password)
        except passwords.PasswordPolicyError as e:
            raise BillingError(str(e)) from None
        with self.uow.transaction("set_password") as s:
            row = self.operator(s, operator)
            if actor not in ("system", operator):
                admin = self.operator(s, actor)
                if admin.role != OperatorRole.ADMINISTRATOR.value:
                    raise PermissionDenied(f"operator {actor!r} may not set another "
                                           "operator's password")
            cred = s.get(m.OperatorCredential, row.id)
            if cred is None:
                s.add(m.OperatorCredential(operator_id=row.id, password_hash=encoded,
                                           changed_at=self.uow.now()))
            else:
                cred.password_hash, cred.changed_at = encoded, self.uow.now()
            self.uow.audit(s, actor, "operator.password", "operator", row.id, None,
                           {"operator": operator, "password": "changed"})

    def authenticate(self, name: str, password: str) -> OperatorInfo | None:
        """The operator if ``password`` is theirs, else None (unknown name, no password set
        or wrong password look the same to the caller). Known names are audited."""
        checked = self.check_login(name, password)
        return None if checked is None else checked[0]

    def check_login(self, name: str, password: str) -> tuple[OperatorInfo, str] | None:
        """:meth:`authenticate`, also returning the password's stamp (see
        :meth:`password_stamp`) read in the same transaction.

        Every call runs the password KDF exactly once — against the operator's hash, or a
        dummy one for an unknown name or an operator without a password — so the answer
        takes as long whichever it is.
        """
        with self.uow.transaction("check_login") as s:
            row = s.scalar(select(m.Operator).where(m.Operator.name == name))
            cred = s.get(m.OperatorCredential, row.id) if row is not None else None
            encoded = cred.password_hash if cred is not None else _DUMMY_HASH
            ok = passwords.verify_password(password, encoded) and cred is not None
            if row is None:
                return None
            self.uow.audit(s, name, "operator.login" if ok else "operator.login_failed",
                           "operator", row.id, None, {"operator": name})
            if not ok:
                return None
            return operator_info(row), stamp(encoded)

    def password_stamp(self, name: str) -> str | None:
        """A short fingerprint of ``name``'s current password hash (None: no password). A
        console session keeps the stamp of its login and ends when it no longer matches, so a
        password change ends every session opened with the old password."""
        with self.uow.transaction("password_stamp") as s:
            encoded = s.scalar(select(m.OperatorCredential.password_hash)
                               .join(m.Operator, m.Operator.id == m.OperatorCredential.operator_id)
                               .where(m.Operator.name == name))
            return None if encoded is None else stamp(encoded)

    # -- API tokens -----------------------------------------------------------------------------

    def create_api_token(self, operator: str, *, actor: str, label: str = "",
                         expires_at: datetime | None = None,
                         stations: Iterable[str] = ()) -> IssuedToken:
        """Mint a bearer token for ``operator``; ``actor`` must be an administrator.

        ``expires_at`` (None: never) ends it; ``stations`` are the registered stations it may
        sell at (none: it may read and administer, not sell). The secret is in the returned
        :class:`IssuedToken` only; the audit log records the token id, operator, label,
        expiry and stations.
        """
        codes = tuple(dict.fromkeys(stations))
        expiry = None if expires_at is None else to_utc(expires_at)
        with self.uow.transaction("create_api_token") as s:
            self.require_administrator(s, actor, "create API tokens")
            now = self.uow.now()
            if expiry is not None and expiry <= now:
                raise BillingError(f"token expiry {expiry.isoformat()} is not in the future")
            known = set(s.scalars(select(m.Station.code).where(m.Station.code.in_(codes))))
            missing = [c for c in codes if c not in known]
            if missing:
                raise NotFound(f"station {missing[0]!r} is not registered; a token can only "
                               "be bound to registered stations")
            row, secret = tokens.mint(s, self.operator(s, operator), label=label, actor=actor,
                                      at=now, expires_at=expiry, stations=codes)
            info = tokens.info(row)
            self.uow.audit(s, actor, "token.create", "api_token", row.id, None, info)
            return IssuedToken(info, secret)

    def revoke_api_token(self, token_id: int, *, actor: str) -> ApiTokenInfo:
        with self.uow.transaction("revoke_api_token") as s:
            self.require_administrator(s, actor, "revoke API tokens")
            row = s.get(m.ApiToken, row_id(token_id))
            if row is None:
                raise NotFound(f"no API token {token_id}")
            if row.revoked_at is not None:
                raise Conflict(f"API token {token_id} was already revoked at {row.revoked_at}")
            before = tokens.info(row)
            row.revoked_at, row.revoked_by = self.uow.now(), actor
            after = tokens.info(row)
            self.uow.audit(s, actor, "token.revoke", "api_token", row.id, before, after)
            return after

    def api_tokens(self) -> list[ApiTokenInfo]:
        with self.uow.transaction("api_tokens") as s:
            return [tokens.info(t) for t in s.scalars(select(m.ApiToken).order_by(m.ApiToken.id))]

    def operator_for_token(self, secret: str) -> OperatorInfo | None:
        """The operator a live (unrevoked, unexpired) token belongs to, or None."""
        holder = self.token_holder(secret)
        return None if holder is None else holder.operator

    def token_holder(self, secret: str) -> TokenHolder | None:
        """Who a live (unrevoked, unexpired) token speaks for and where it may sell; None
        for an unknown, revoked or expired token."""
        with self.uow.transaction("token_holder") as s:
            row = tokens.live_token(s, secret, self.uow.now())
            if row is None:
                return None
            return TokenHolder(row.id, operator_info(row.operator), tuple(row.stations or ()),
                               row.expires_at)
