"""Exact money: every Numeric money/price column becomes a BIGINT of minor units.

SQLite stored NUMERIC as doubles. Values written by 0001 had at most 14 significant digits, so
``ROUND(x * 10**scale)`` recovers them exactly before the column changes type.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table, column, scale, old Numeric(precision, scale)
COLUMNS = (
    ("tariffs", "price_per_kwh", 4, (12, 4)),
    ("vends", "amount", 2, (14, 2)),
    ("vends", "price_per_kwh", 4, (12, 4)),
    ("reconciliations", "expected_consumed", 7, (12, 4)),
    ("reconciliations", "actual_consumed", 7, (12, 4)),
)


def _tables() -> list[str]:
    return list(dict.fromkeys(t for t, *_ in COLUMNS))


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in _tables():
        cols = [c for c in COLUMNS if c[0] == table]
        if sqlite:
            for _, col, scale, _old in cols:
                op.execute(f"UPDATE {table} SET {col} = ROUND({col} * {10**scale})")
        with op.batch_alter_table(table) as batch:
            for _, col, scale, old in cols:
                batch.alter_column(
                    col,
                    existing_type=sa.Numeric(*old),
                    type_=sa.BigInteger(),
                    existing_nullable=False,
                    postgresql_using=f"round({col} * {10**scale})::bigint",
                )


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in _tables():
        cols = [c for c in COLUMNS if c[0] == table]
        with op.batch_alter_table(table) as batch:
            for _, col, scale, old in cols:
                batch.alter_column(
                    col,
                    existing_type=sa.BigInteger(),
                    type_=sa.Numeric(*old),
                    existing_nullable=False,
                    postgresql_using=f"round({col}::numeric / {10**scale}, {old[1]})",
                )
        if sqlite:
            for _, col, scale, old in cols:
                op.execute(f"UPDATE {table} SET {col} = ROUND({col} * 1.0 / {10**scale}, {old[1]})")
