"""The unit of work every area shares: one database transaction per operation, the clock,
and the audit events the transaction appends to the chain when it commits.

Each area (registry, sales, vend life, ...) asks it for a transaction named after the
operation, so a lock that stays held too long surfaces as :class:`~rig.billing.BillingBusy`
naming what the operator was doing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import DataError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from rig.billing import audit, inputs
from rig.billing.audit_anchor import Anchoring
from rig.billing.audit_key import AuditConfig
from rig.billing.busy import busy_error
from rig.billing.engine import READ_ONLY, lock_wait_seconds
from rig.billing.models import to_utc
from rig.billing.storage import storage_error


def utcnow() -> datetime:
    return datetime.now(UTC)


class UnitOfWork:
    """The engine, its sessions, the clock and the audit key/anchor of one centre."""

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] | None = None,
                 audit_config: AuditConfig | None = None) -> None:
        self.engine = engine
        # The audit key and anchor (rig.billing.audit_key): never stored in the database.
        self.audit_config = audit_config or AuditConfig()
        self.audit_key = self.audit_config.key
        self.anchoring = Anchoring(self.audit_config) if self.audit_config.anchor else None
        self.postgres = engine.dialect.name == "postgresql"
        self._clock = clock or utcnow
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._reading = sessionmaker(engine.execution_options(**{READ_ONLY: True}))

    def now(self) -> datetime:
        return to_utc(self._clock())

    @contextmanager
    def transaction(self, operation: str) -> Iterator[Session]:
        """One write transaction for ``operation``; its audit events are appended before it
        commits and anchored after."""
        with self.busy_as(operation):
            with self._sessions.begin() as session:
                yield session
                appended = audit.write_deferred(session, self.audit_key)
            if appended is not None:  # committed
                self.anchored(appended)

    @contextmanager
    def reading(self, operation: str) -> Iterator[Session]:
        """A transaction that only reads: no write lock taken or waited for (SQLite begins it
        deferred), refused by the database if anything tries to write (PostgreSQL: READ ONLY),
        and never committed."""
        with self.busy_as(operation):
            session = self._reading()
            try:
                session.begin()
                if self.postgres:
                    session.execute(text("SET TRANSACTION READ ONLY"))
                yield session
            finally:
                session.rollback()
                session.close()

    def anchored(self, appended: tuple[int, str]) -> None:
        """Tell the anchor (if any) about an event the chain committed."""
        if self.anchoring is not None:
            self.anchoring.appended(appended)

    def audit(self, s: Session, actor: str, action: str, entity: str, entity_id: object,
              before: Any, after: Any, *, head: audit.Head | None = None) -> None:
        """Queue an audit event; the transaction appends it to the chain as it commits."""
        audit.defer(s, at=self.now(), actor=actor, action=action, entity=entity,
                    entity_id=entity_id, before=before, after=after, head=head)

    def close(self) -> None:
        if self.anchoring is not None:
            self.anchoring.flush()
        self.engine.dispose()

    def busy_as(self, operation: str) -> BusyAs:
        """A lock wait that ran out, in the block, as :class:`BillingBusy` naming
        ``operation``; a database that cannot store (read-only, full, I/O error, gone) as
        :class:`~rig.billing.storage.BillingStorageError`; any other database error as it is."""
        return BusyAs(self.engine, operation)


class BusyAs:
    """The context manager of :meth:`UnitOfWork.busy_as` (a class: entered on every sale)."""

    __slots__ = ("_engine", "_operation")

    def __init__(self, engine: Engine, operation: str) -> None:
        self._engine = engine
        self._operation = operation

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 _tb: object) -> None:
        if error is None:
            return
        operation = self._operation
        if isinstance(error, DataError):  # e.g. NUL in text on PostgreSQL: nothing was written
            said = (str(error.orig).strip().splitlines() or ["refused"])[0][:200]
            raise inputs.InvalidInput(operation, f"the database cannot store a value of it "
                                                 f"({said}); nothing was committed") from None
        if isinstance(error, DBAPIError):
            engine = self._engine
            busy = busy_error(error, operation, engine.url.render_as_string(hide_password=True),
                              lock_wait_seconds(engine))
            failed = busy or storage_error(error, operation, engine.url)
            if failed is not None:
                raise failed from error
