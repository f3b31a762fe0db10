"""A database too busy to answer in time, as one typed, retryable error.

SQLite makes a station wait for the write lock up to its busy timeout and then says "database is
locked"; PostgreSQL gives up on a row lock after ``lock_timeout`` or picks a transaction as a
deadlock or serialization victim. In every case the transaction is rolled back: nothing was
committed, so the caller may simply retry (a vend is idempotent by its request id). Callers see
:class:`BillingBusy` instead of a driver's ``OperationalError``; the REST API answers 503 with
``Retry-After``.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

from rig.errors import BillingError

SQLITE_BUSY, SQLITE_LOCKED = 5, 6
# SQLSTATE → what happened, in words for the operator.
POSTGRES_BUSY = {
    "40001": "conflicted with a concurrent transaction (serialization failure)",
    "40P01": "was picked as the victim of a deadlock with a concurrent transaction",
    "55P03": "waited longer than the lock timeout for a row another station holds",
}
RETRY_AFTER_S = 1
EXIT_BUSY = 75  # a command line's exit status for it (sysexits EX_TEMPFAIL: run it again)


class BillingBusy(BillingError):
    """The database stayed busy past its wait limit; nothing was committed, retry as it is."""

    reason = "busy"

    def __init__(self, message: str, *, operation: str, database: str,
                 retry_after_s: int = RETRY_AFTER_S) -> None:
        super().__init__(message)
        self.operation = operation
        self.database = database
        self.retry_after_s = retry_after_s

    @classmethod
    def because(cls, operation: str, database: str, what: str) -> BillingBusy:
        return cls(f"billing database {database} is busy: {operation} {what}; nothing was "
                   "committed, so it is safe to retry (a vend retried with the same request id "
                   "is made once)", operation=operation, database=database)


def busy_error(exc: BaseException, operation: str, database: str,
               lock_wait_s: float | None = None) -> BillingBusy | None:
    """``exc`` as a :class:`BillingBusy` if it means "busy, try again", else None."""
    if not isinstance(exc, DBAPIError) or exc.orig is None:
        return None
    orig = exc.orig
    code = getattr(orig, "sqlite_errorcode", None)
    if code is not None:
        if code & 0xFF not in (SQLITE_BUSY, SQLITE_LOCKED):
            return None
        waited = f"within {lock_wait_s:g} s" if lock_wait_s is not None else "in time"
        return BillingBusy.because(
            operation, database, f"could not get the write lock {waited} (another station held it)")
    what = POSTGRES_BUSY.get(getattr(orig, "sqlstate", None) or "")
    return BillingBusy.because(operation, database, what) if what is not None else None
