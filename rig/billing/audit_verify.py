"""``verify``: the chain, its checkpoints outside the database and the ledger, in one pass.

What it proves, and what it cannot, is in docs/billing.md ("Audit verification").
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy.orm import Session

from rig.billing import audit, audit_anchor, audit_ledger
from rig.billing import models as m
from rig.billing.audit_key import AuditConfig


def verify(s: Session, config: AuditConfig, now: datetime) -> audit.ChainReport:
    """The chain verified with ``config.key``, checked against the checkpoints in
    ``config.anchor`` and replayed against the ledger tables; ``ok`` only if all three hold."""
    hashes: dict[int, str] = {}
    derived = audit_ledger.Derived()

    def visit(row: m.AuditEvent) -> None:
        hashes[row.seq] = row.hash
        derived.feed(row.action, row.entity_id, row.after, row.key_id)

    chain = audit.verify_chain(s, config.key, visit)
    if not chain.ok:
        return chain
    problems: list[str] = []
    notes: list[str] = []
    checkpoints = 0
    if chain.legacy:
        sealed = "sealed by the first keyed event" if chain.keyed else "not sealed yet"
        notes.append(f"events 1–{chain.legacy} are legacy (unkeyed SHA-256, {sealed}): "
                     "anyone can recompute them")
    if config.key is None or config.anchor is None:
        notes.append("no anchor given: a cut tail, an emptied log or an older copy of the "
                     "database cannot be detected")
    else:
        contents = audit_anchor.read_anchor(config.anchor, config.key)
        checkpoints = len(contents.checkpoints)
        notes += contents.notes
        problems += audit_anchor.check(contents, hashes, chain.head[0] if chain.head else 0)
        if not checkpoints and chain.keyed:
            problems.append(f"the anchor {config.anchor} holds no checkpoint of this chain, "
                            f"which has {chain.keyed} keyed events (wrong anchor, or it was "
                            "emptied)")
    ledger = audit_ledger.compare(s, derived, now)
    problems += ledger.disagreements
    notes += ledger.notes
    return replace(chain, ok=not problems, problem=problems[0] if problems else "",
                   problems=tuple(problems), notes=tuple(notes), checkpoints=checkpoints,
                   totals=ledger.totals, key_id=config.key.key_id if config.key else None)
