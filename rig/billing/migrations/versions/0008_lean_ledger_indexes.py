"""Four indexes fewer for every sale to write: each was one more page in each sale's commit.

* ``ix_vends_meter_id``: a meter's vends are found through ``uq_vends_meter_id_sequence``,
  whose first column is ``meter_id``.
* ``ix_vends_card_id``: vends are never looked up by card (cards are never deleted either).
* ``uq_audit_events_hash``: an event's hash covers its ``seq`` (unique) and the previous hash,
  so it is unique by construction; the chain is checked by recomputing it, never looked up by
  hash (and its random keys touched a different page each time).
* ``ix_audit_events_action``: the log is read in ``seq`` order, filtered by entity if at all.

On SQLite the audit table is rebuilt to drop the constraint, its append-only triggers with it.
Frozen copy of the schema at this revision.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_APPEND_ONLY = (
    "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
    "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
)
SQLITE_DROP_APPEND_ONLY = (
    "DROP TRIGGER IF EXISTS audit_events_no_update",
    "DROP TRIGGER IF EXISTS audit_events_no_delete",
)


def _rebuild_audit_events(change: str) -> None:
    """Add or drop the hash's unique constraint and the action's index (SQLite: a table
    rebuild, triggers re-made)."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in SQLITE_DROP_APPEND_ONLY if sqlite else ():
        op.execute(statement)
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        if change == "drop":
            batch_op.drop_constraint(op.f("uq_audit_events_hash"), type_="unique")
            batch_op.drop_index(op.f("ix_audit_events_action"))
        else:
            batch_op.create_unique_constraint(op.f("uq_audit_events_hash"), ["hash"])
            batch_op.create_index(op.f("ix_audit_events_action"), ["action"], unique=False)
    for statement in SQLITE_APPEND_ONLY if sqlite else ():
        op.execute(statement)


def upgrade() -> None:
    op.drop_index(op.f("ix_vends_meter_id"), table_name="vends")
    op.drop_index(op.f("ix_vends_card_id"), table_name="vends")
    _rebuild_audit_events("drop")


def downgrade() -> None:
    _rebuild_audit_events("add")
    op.create_index(op.f("ix_vends_card_id"), "vends", ["card_id"], unique=False)
    op.create_index(op.f("ix_vends_meter_id"), "vends", ["meter_id"], unique=False)
