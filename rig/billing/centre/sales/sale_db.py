"""Where a sale runs: in an ORM session, or in a direct transaction (:mod:`.direct`).

The sale (:mod:`rig.billing.centre.sales.steps`) is written once, against
:class:`SaleDb`. A direct transaction has no ORM session: asking it for one raises
:class:`NeedsSession`, and the centre rolls the direct transaction back and makes the sale again
in a session. That is how the rare sales go — debts to recover, an agent's float, queued
parameters, a fixed monthly charge, a retry seen only under the lock, a refusal that has to look
something up, the first sale of a tariff version — while the common one stays direct.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import Executable
from sqlalchemy.orm import Session

from rig.billing import audit
from rig.billing.audit_key import AuditKey
from rig.billing.centre.sales.direct import DirectTransaction


class NeedsSession(Exception):
    """This sale needs the ORM; make it again in a session."""


class SaleDb(Protocol):
    @property
    def session(self) -> Session: ...

    def execute(self, statement: Executable, values: dict[str, Any]) -> None: ...

    def one(self, statement: Executable, values: dict[str, Any]) -> dict[str, Any] | None: ...

    def audit(self, events: list[dict[str, Any]], head: audit.Head | None) -> None:
        """Append ``events`` (:func:`rig.billing.audit.shape`) to the chain in this
        transaction, in order, the first after ``head``."""


class OrmSale:
    """A sale in an ORM session (its events are appended when the session commits)."""

    def __init__(self, s: Session) -> None:
        self._s = s

    @property
    def session(self) -> Session:
        return self._s

    def execute(self, statement: Executable, values: dict[str, Any]) -> None:
        self._s.connection().execute(statement, values)

    def one(self, statement: Executable, values: dict[str, Any]) -> dict[str, Any] | None:
        row = self._s.connection().execute(statement, values).first()
        return dict(row._mapping) if row is not None else None

    def audit(self, events: list[dict[str, Any]], head: audit.Head | None) -> None:
        for event in events:
            audit.enqueue(self._s, event, head)


class DirectSale:
    """A sale in a direct transaction: no session, the audit event appended at once (the sale
    appends it last, so the chain's lock stays the last lock taken)."""

    def __init__(self, tx: DirectTransaction, *, postgres: bool, key: AuditKey | None) -> None:
        self._tx = tx
        self.postgres = postgres
        self._key = key
        self.appended: tuple[int, str] | None = None  # the event's (seq, hash), once appended

    @property
    def session(self) -> Session:
        raise NeedsSession

    def execute(self, statement: Executable, values: dict[str, Any]) -> None:
        self._tx.execute(statement, values)

    def one(self, statement: Executable, values: dict[str, Any]) -> dict[str, Any] | None:
        return self._tx.one(statement, values)

    def audit(self, events: list[dict[str, Any]], head: audit.Head | None) -> None:
        self.appended = audit.append(self._tx.one, self._tx.execute, events, head,
                                     postgres=self.postgres, key=self._key)
