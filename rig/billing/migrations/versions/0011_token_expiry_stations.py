"""API tokens expire and are bound to stations: ``api_tokens.expires_at`` (NULL: never) and
``api_tokens.stations`` (JSON list of station codes the token may sell at; NULL: none, so a
token made before this revision may read but not sell until it is replaced).

Frozen copy of the schema at this revision (no import of rig.billing.models).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("stations", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("stations")
        batch_op.drop_column("expires_at")
