"""STS currency tokens for money meters: ``sts_meters.currency_step``, what one step of a
currency token's amount is worth in the meter's currency (0.00001 STS base currency units, a
base unit the utility and the meter's maker agree on). Existing rows: 0.00001 (the base unit
is the currency itself).

Frozen copy of the schema at this revision (no import of rig.billing.models).

Revision ID: 0014_sts_desk2_currency_step (Alembic allows no "-" in an id)
Revises: 0013_sts_sales
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_sts_desk2_currency_step"
down_revision: str | None = "0013_sts_sales"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sts_meters") as batch:
        batch.add_column(sa.Column("currency_step", sa.String(length=12), nullable=False,
                                   server_default="0.00001"))


def downgrade() -> None:
    with op.batch_alter_table("sts_meters") as batch:
        batch.drop_column("currency_step")
