"""Hoarding limit per meter: the most credit (in the meter's credit unit) the centre lets a
meter hold; NULL = not checked by the centre.

Frozen copy of the schema at this revision (no import of rig.billing.models).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("meters", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hoarding_limit", sa.BigInteger(), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_meters_hoarding_limit"), "hoarding_limit IS NULL OR hoarding_limit > 0"
        )


def downgrade() -> None:
    with op.batch_alter_table("meters", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_meters_hoarding_limit"), type_="check")
        batch_op.drop_column("hoarding_limit")
