"""The audit log: every state change of the billing centre as an append-only, keyed chain.

Each event stores who, when, what (action, entity, id) and the entity's state before and after,
plus ``prev_hash`` (the previous event's hash) and ``hash = HMAC-SHA256(audit key, canonical
JSON of all of that)`` with ``key_id`` naming the key (:mod:`rig.billing.audit_key`). The key is
not in the database, so whoever edits a row cannot re-compute the chain after it: editing,
deleting or reordering any row breaks the chain at that row, and :func:`verify_chain` names the
first broken link. Truncation of the tail and wholesale replacement are caught by the signed
checkpoints kept outside the database (:mod:`rig.billing.audit_anchor`). The database also
refuses UPDATE and DELETE on the table (triggers from migration 0003).

Events written without a key (``key_id`` NULL: every event before migration 0009, and a
centre configured without a key) are *legacy*: ``hash = SHA-256(...)``, which anyone can
recompute. They verify as legacy, only as a prefix of the chain: the first keyed event's MAC
covers the last legacy hash, which seals the prefix; an unkeyed event after a keyed one breaks
the chain.

Appends in concurrent transactions are serialised by SQLite's ``BEGIN IMMEDIATE`` or, on
PostgreSQL, a transaction-scoped advisory lock taken just before commit (:func:`defer`); the
``seq`` unique constraint backs both.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Executable, bindparam, insert, select, text
from sqlalchemy.orm import Session

from rig.billing import models as m
from rig.billing.audit_key import AuditKey
from rig.billing.canonical_json import canonical_json
from rig.billing.models import JsonText, to_utc
from rig.errors import BillingError

GENESIS = "0" * 64
AUDIT_CHAIN_LOCK = 0x72696761756469  # "rigaudi": one chain, one advisory lock
Head = tuple[int, str, str | None]  # the newest event's (seq, hash, key_id)


class AuditKeyMismatch(BillingError):
    """The chain is keyed with another key than this centre's (or this centre has none):
    appending would break it, so the transaction is refused and rolled back."""

    def __init__(self, head_key: str, ours: AuditKey | None) -> None:
        mine = f"key {ours.key_id}" if ours is not None else "no audit key"
        super().__init__(f"the audit chain is signed with audit key {head_key} and this centre "
                         f"has {mine}: nothing was written (configure the centre's audit key, "
                         "$RIG_AUDIT_KEY_FILE)")


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
    keyed: int = 0  # events verified with the audit key
    legacy: int = 0  # unkeyed (SHA-256) events, a prefix of the chain
    head: tuple[int, str] | None = None  # newest event's (seq, hash) when the chain holds
    # Filled by rig.billing.audit_verify: every problem (chain, checkpoints, ledger rows),
    # what the verification could not prove, checkpoints that held, totals from the events.
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    checkpoints: int = 0
    totals: dict[str, str] = field(default_factory=dict)
    key_id: str | None = None


def event_hash(
    seq: int, at: datetime, actor: str, action: str, entity: str, entity_id: str,
    before: Any, after: Any, prev_hash: str, key: AuditKey | None = None,
) -> str:
    """The event's link: HMAC-SHA256 under ``key`` of the canonical JSON of the whole event
    (as stored: ``before``/``after`` already JSON-safe); without a key, the legacy SHA-256."""
    return _digest(seq, at, actor, action, entity, entity_id, canonical_json(before),
                   canonical_json(after), prev_hash, key)


def _digest(seq: int, at: datetime, actor: str, action: str, entity: str, entity_id: str,
            before_json: str, after_json: str, prev_hash: str,
            key: AuditKey | None = None) -> str:
    # The canonical JSON of {"action", "actor", "after", "at", "before", "entity",
    # "entity_id", "prev", "seq"} (keys in sorted order), put together from the parts so
    # ``before``/``after`` — the bulk of it, and also what is stored — are serialised once.
    # tests/billing/test_audit_hash.py holds it to ``json.dumps(..., sort_keys=True)``.
    js = canonical_json
    blob = (f'{{"action":{js(action)},"actor":{js(actor)},"after":{after_json},'
            f'"at":{js(to_utc(at).isoformat())},"before":{before_json},'
            f'"entity":{js(entity)},"entity_id":{js(entity_id)},'
            f'"prev":{js(prev_hash)},"seq":{int(seq)}}}')
    if key is not None:
        return key.mac(blob.encode())
    return hashlib.sha256(blob.encode()).hexdigest()


def defer(
    s: Session, *, at: datetime, actor: str, action: str, entity: str, entity_id: object,
    before: Any = None, after: Any = None,
    head: Head | None = None,
) -> None:
    """Queue one event in the caller's transaction; :func:`write_deferred` appends the queue
    just before the transaction commits (and a rollback drops it with everything else).

    Appending last is what keeps concurrent writers free of deadlocks on PostgreSQL: the
    chain's advisory lock is then the last lock any transaction takes, so a transaction that
    holds it never waits for a row another one has locked. ``head`` is the newest event's
    (seq, hash) when the caller has read it under SQLite's write lock
    (:mod:`rig.billing.centre.sales.context`), saving a round trip.
    """
    enqueue(s, shape(at=at, actor=actor, action=action, entity=entity, entity_id=entity_id,
                     before=before, after=after), head)


def enqueue(s: Session, event: dict[str, Any], head: Head | None = None) -> None:
    """Queue an event already shaped by :func:`shape` (see :func:`defer`)."""
    s.info.setdefault(_QUEUE, []).append((event, head))


def write_deferred(s: Session, key: AuditKey | None) -> tuple[int, str] | None:
    """Append the events :func:`defer` queued, after flushing every other change; the newest
    event's (seq, hash) once appended, None if there was nothing to append."""
    queue = s.info.pop(_QUEUE, None)
    if not queue:
        return None
    s.flush()  # every row lock this transaction needs is taken before the chain's lock
    conn = s.connection()

    def first(statement: Executable, values: dict[str, Any]) -> dict[str, Any] | None:
        row = conn.execute(statement, values).first()
        return dict(row._mapping) if row is not None else None

    return append(first, conn.execute, [event for event, _ in queue], queue[0][1],
                  postgres=conn.dialect.name == "postgresql", key=key)


def append(
    first: Callable[[Executable, dict[str, Any]], dict[str, Any] | None],
    execute: Callable[[Executable, Any], object],
    events: list[dict[str, Any]], head: Head | None, *, postgres: bool,
    key: AuditKey | None,
) -> tuple[int, str]:
    """Chain ``events`` (as :func:`defer` shapes them) after ``head`` — read here, under the
    chain's lock on PostgreSQL, when the caller has not read it — and insert them, through
    whichever connection ``first`` and ``execute`` run statements on; signed with ``key``.
    Refused (:class:`AuditKeyMismatch`) when the head is signed with another key."""
    if head is None:
        if postgres:
            execute(_ADVISORY_LOCK, {"key": AUDIT_CHAIN_LOCK})
        newest = first(_HEAD, {})
        head = (newest["seq"], newest["hash"], newest["key_id"]) if newest is not None else None
    key_id = key.key_id if key is not None else None
    if head is not None and head[2] is not None and head[2] != key_id:
        raise AuditKeyMismatch(head[2], key)
    seq, prev = (head[0], head[1]) if head is not None else (0, GENESIS)
    rows = []
    for event in events:
        seq += 1
        digest = _digest(seq, event["at"], event["actor"], event["action"], event["entity"],
                         event["entity_id"], event["before"], event["after"], prev, key)
        rows.append({**event, "seq": seq, "prev_hash": prev, "hash": digest, "key_id": key_id})
        prev = digest
    execute(_INSERT, rows)
    return seq, prev


def shape(*, at: datetime, actor: str, action: str, entity: str, entity_id: object,
          before: Any = None, after: Any = None,
          ) -> dict[str, Any]:
    """One event as stored, before it is chained; ``before``/``after`` (dicts or dataclasses)
    become their canonical JSON here, once, for the hash and the row alike."""
    return {"at": to_utc(at), "actor": actor, "action": action, "entity": entity,
            "entity_id": str(entity_id), "before": canonical_json(before),
            "after": canonical_json(after)}


_QUEUE = "rig.audit.pending"
_ADVISORY_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
_HEAD = select(m.AuditEvent.seq, m.AuditEvent.hash, m.AuditEvent.key_id) \
    .order_by(m.AuditEvent.seq.desc()).limit(1)
_INSERT = insert(m.AuditEvent).values({
    **{name: bindparam(name) for name in ("seq", "at", "actor", "action", "entity", "entity_id",
                                          "prev_hash", "hash", "key_id")},
    **{name: bindparam(name, type_=JsonText()) for name in ("before", "after")}})


def verify_chain(s: Session, key: AuditKey | None,
                 visit: Callable[[m.AuditEvent], None] | None = None) -> ChainReport:
    """Recompute every link in order (keyed events with ``key``, legacy ones with SHA-256);
    stop at the first one that does not hold. ``visit`` sees each event that held."""
    prev_hash, expected_seq, keyed, legacy = GENESIS, 1, 0, 0
    for row in s.scalars(select(m.AuditEvent).order_by(m.AuditEvent.seq)):
        broken = _broken_link(row, expected_seq, prev_hash, keyed > 0, key)
        if broken is not None:
            at, problem = broken
            return ChainReport(False, keyed + legacy, at, problem, keyed, legacy,
                               problems=(problem,))
        if visit is not None:
            visit(row)
        if row.key_id is None:
            legacy += 1
        else:
            keyed += 1
        prev_hash, expected_seq = row.hash, expected_seq + 1
    head = (expected_seq - 1, prev_hash) if expected_seq > 1 else None
    return ChainReport(True, keyed + legacy, keyed=keyed, legacy=legacy, head=head)


def _broken_link(row: m.AuditEvent, expected_seq: int, prev_hash: str, after_keyed: bool,
                 key: AuditKey | None) -> tuple[int, str] | None:
    """(seq, problem) if ``row`` is not the next link of the chain, else None."""
    if row.seq != expected_seq:
        return expected_seq, f"event {expected_seq} is missing (next stored is {row.seq})"
    if row.prev_hash != prev_hash:
        return row.seq, f"event {row.seq} does not point at event {row.seq - 1}'s hash"
    what = f"event {row.seq} ({row.action} {row.entity} {row.entity_id})"
    if row.key_id is None and after_keyed:
        return row.seq, (f"{what} is unkeyed after keyed events: written without the audit "
                         "key, or forged")
    if row.key_id is not None and key is None:
        return row.seq, (f"{what} is signed with audit key {row.key_id}; verifying it needs "
                         "that key (--audit-key-file / $RIG_AUDIT_KEY_FILE)")
    if row.key_id is not None and key is not None and row.key_id != key.key_id:
        return row.seq, (f"{what} is signed with audit key {row.key_id}, not with the key "
                         f"given ({key.key_id})")
    recomputed = event_hash(row.seq, row.at, row.actor, row.action, row.entity, row.entity_id,
                            row.before, row.after, row.prev_hash,
                            key if row.key_id is not None else None)
    if not hmac.compare_digest(recomputed, row.hash):
        return row.seq, (f"{what} was altered: its content no longer matches its "
                         + ("MAC" if row.key_id is not None else "hash"))
    return None


def entry(row: m.AuditEvent) -> AuditEntry:
    return AuditEntry(row.seq, row.at, row.actor, row.action, row.entity, row.entity_id,
                      row.before, row.after, row.hash)
