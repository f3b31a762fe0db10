"""The audit chain becomes keyed: ``audit_events.key_id`` names the key of an event's HMAC.

Rows written before (``key_id`` NULL) keep their SHA-256 hash and verify as legacy events: a
prefix of the chain that the first keyed event seals (its MAC covers the last legacy hash).
Nothing is re-signed, so this migration cannot launder an edit made before it. On SQLite the
table is rebuilt (batch mode), its append-only triggers re-made.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
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


def _change(add: bool) -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in SQLITE_DROP_APPEND_ONLY if sqlite else ():
        op.execute(statement)
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        if add:
            batch_op.add_column(sa.Column("key_id", sa.String(length=16), nullable=True))
        else:
            batch_op.drop_column("key_id")
    for statement in SQLITE_APPEND_ONLY if sqlite else ():
        op.execute(statement)


def upgrade() -> None:
    _change(add=True)


def downgrade() -> None:
    _change(add=False)
