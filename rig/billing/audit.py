"""The audit log: every state change of the billing centre as an append-only, hash-chained event.

Each event stores who, when, what (action, entity, id) and the entity's state before and after,
plus ``prev_hash`` (the previous event's hash) and ``hash = SHA-256(canonical JSON of all of
that)``. Editing, deleting or reordering any row breaks the chain at that row, and
:func:`verify_chain` names the first broken link. The database also refuses UPDATE and DELETE
on the table (triggers from migration 0003); the chain is what catches someone who went round
them with direct file access.

Appends in concurrent transactions are serialised by SQLite's ``BEGIN IMMEDIATE`` or, on
PostgreSQL, a transaction-scoped advisory lock taken just before commit (:func:`defer`); the
``seq`` unique constraint backs both.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, fields, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import JSON, Executable, bindparam, insert, select, text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

from rig.billing import models as m
from rig.billing.models import to_utc

GENESIS = "0" * 64
AUDIT_CHAIN_LOCK = 0x72696761756469  # "rigaudi": one chain, one advisory lock


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    hash: str


@dataclass(frozen=True)
class ChainReport:
    """Outcome of a chain verification; ``broken_seq`` is the first bad event, if any."""

    ok: bool
    events: int
    broken_seq: int | None = None
    problem: str = ""


def canonical_json(value: Any) -> str:
    """``value`` as the chain hashes and stores it: sorted keys, no spaces, ASCII only, and
    Decimals as exact strings, datetimes ISO 8601, enums their value, dataclasses (nested ones
    too) objects of their fields — never a float made of money."""
    return _CANONICAL.encode(value)


def event_hash(
    seq: int, at: datetime, actor: str, action: str, entity: str, entity_id: str,
    before: Any, after: Any, prev_hash: str,
) -> str:
    """SHA-256 of the canonical JSON of the whole event (as stored: ``before``/``after``
    already JSON-safe)."""
    return _digest(seq, at, actor, action, entity, entity_id, canonical_json(before),
                   canonical_json(after), prev_hash)


def _digest(seq: int, at: datetime, actor: str, action: str, entity: str, entity_id: str,
            before_json: str, after_json: str, prev_hash: str) -> str:
    # The canonical JSON of {"action", "actor", "after", "at", "before", "entity",
    # "entity_id", "prev", "seq"} (keys in sorted order), put together from the parts so
    # ``before``/``after`` — the bulk of it, and also what is stored — are serialised once.
    # tests/billing/test_audit_hash.py holds it to ``json.dumps(..., sort_keys=True)``.
    js = _CANONICAL.encode
    blob = (f'{{"action":{js(action)},"actor":{js(actor)},"after":{after_json},'
            f'"at":{js(to_utc(at).isoformat())},"before":{before_json},'
            f'"entity":{js(entity)},"entity_id":{js(entity_id)},'
            f'"prev":{js(prev_hash)},"seq":{int(seq)}}}')
    return hashlib.sha256(blob.encode()).hexdigest()


def defer(
    s: Session, *, at: datetime, actor: str, action: str, entity: str, entity_id: object,
    before: Any = None, after: Any = None,
    head: tuple[int, str] | None = None,
) -> None:
    """Queue one event in the caller's transaction; :func:`write_deferred` appends the queue
    just before the transaction commits (and a rollback drops it with everything else).

    Appending last is what keeps concurrent writers free of deadlocks on PostgreSQL: the
    chain's advisory lock is then the last lock any transaction takes, so a transaction that
    holds it never waits for a row another one has locked. ``head`` is the newest event's
    (seq, hash) when the caller has read it under SQLite's write lock
    (:mod:`rig.billing.vend_context`), saving a round trip.
    """
    enqueue(s, shape(at=at, actor=actor, action=action, entity=entity, entity_id=entity_id,
                     before=before, after=after), head)


def enqueue(s: Session, event: dict[str, Any], head: tuple[int, str] | None = None) -> None:
    """Queue an event already shaped by :func:`shape` (see :func:`defer`)."""
    s.info.setdefault(_QUEUE, []).append((event, head))


def write_deferred(s: Session) -> None:
    """Append the events :func:`defer` queued, after flushing every other change."""
    queue = s.info.pop(_QUEUE, None)
    if not queue:
        return
    s.flush()  # every row lock this transaction needs is taken before the chain's lock
    conn = s.connection()

    def first(statement: Executable, values: dict[str, Any]) -> dict[str, Any] | None:
        row = conn.execute(statement, values).first()
        return dict(row._mapping) if row is not None else None

    append(first, conn.execute, [event for event, _ in queue], queue[0][1],
           postgres=conn.dialect.name == "postgresql")


def append(
    first: Callable[[Executable, dict[str, Any]], dict[str, Any] | None],
    execute: Callable[[Executable, Any], object],
    events: list[dict[str, Any]], head: tuple[int, str] | None, *, postgres: bool,
) -> None:
    """Chain ``events`` (as :func:`defer` shapes them) after ``head`` — read here, under the
    chain's lock on PostgreSQL, when the caller has not read it — and insert them, through
    whichever connection ``first`` and ``execute`` run statements on."""
    if head is None:
        if postgres:
            execute(_ADVISORY_LOCK, {"key": AUDIT_CHAIN_LOCK})
        newest = first(_HEAD, {})
        head = (newest["seq"], newest["hash"]) if newest is not None else None
    rows = []
    for event in events:
        seq = head[0] + 1 if head is not None else 1
        prev = head[1] if head is not None else GENESIS
        digest = _digest(seq, event["at"], event["actor"], event["action"], event["entity"],
                         event["entity_id"], event["before"], event["after"], prev)
        rows.append({**event, "seq": seq, "prev_hash": prev, "hash": digest})
        head = (seq, digest)
    execute(_INSERT, rows)


def shape(*, at: datetime, actor: str, action: str, entity: str, entity_id: object,
          before: Any = None, after: Any = None,
          ) -> dict[str, Any]:
    """One event as stored, before it is chained; ``before``/``after`` (dicts or dataclasses)
    become their canonical JSON here, once, for the hash and the row alike."""
    return {"at": to_utc(at), "actor": actor, "action": action, "entity": entity,
            "entity_id": str(entity_id), "before": canonical_json(before),
            "after": canonical_json(after)}


def _json_safe(value: Any) -> Any:
    """What the encoder cannot write itself (see :func:`canonical_json`)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if is_dataclass(value) and not isinstance(value, type):
        return {name: getattr(value, name) for name in _field_names(type(value))}
    raise TypeError(f"an audit event cannot hold {type(value).__name__} {value!r}")


@functools.cache
def _field_names(kind: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(kind))


class _JsonText(TypeDecorator[str]):
    """A JSON column's bind for a value that is already JSON text (written as it is)."""

    impl = JSON
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> None:
        return None


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                              default=_json_safe)
_QUEUE = "rig.audit.pending"
_ADVISORY_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
_HEAD = select(m.AuditEvent.seq, m.AuditEvent.hash).order_by(m.AuditEvent.seq.desc()).limit(1)
_INSERT = insert(m.AuditEvent).values({
    **{name: bindparam(name) for name in ("seq", "at", "actor", "action", "entity", "entity_id",
                                          "prev_hash", "hash")},
    **{name: bindparam(name, type_=_JsonText()) for name in ("before", "after")}})


def verify_chain(s: Session) -> ChainReport:
    """Recompute every link in order; stop at the first one that does not hold."""
    prev_hash, expected_seq, count = GENESIS, 1, 0
    for row in s.scalars(select(m.AuditEvent).order_by(m.AuditEvent.seq)):
        if row.seq != expected_seq:
            return ChainReport(False, count, expected_seq,
                               f"event {expected_seq} is missing (next stored is {row.seq})")
        if row.prev_hash != prev_hash:
            return ChainReport(False, count, row.seq,
                               f"event {row.seq} does not point at event {row.seq - 1}'s hash")
        recomputed = event_hash(row.seq, row.at, row.actor, row.action, row.entity,
                                row.entity_id, row.before, row.after, row.prev_hash)
        if recomputed != row.hash:
            return ChainReport(False, count, row.seq,
                               f"event {row.seq} ({row.action} {row.entity} {row.entity_id}) "
                               "was altered: its content no longer matches its hash")
        prev_hash, expected_seq, count = row.hash, expected_seq + 1, count + 1
    return ChainReport(True, count)


def entry(row: m.AuditEvent) -> AuditEntry:
    return AuditEntry(row.seq, row.at, row.actor, row.action, row.entity, row.entity_id,
                      row.before, row.after, row.hash)
