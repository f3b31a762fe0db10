"""Console passwords (salted KDF hashes) and vending agents with a prepaid float.

Frozen copy of the schema at this revision (no import of rig.billing.models).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "operator_credentials",
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operators.id"],
            name=op.f("fk_operator_credentials_operator_id_operators"),
        ),
        sa.PrimaryKeyConstraint("operator_id", name=op.f("pk_operator_credentials")),
    )
    op.create_table(
        "agents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("credit_limit", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("credit_limit >= 0", name=op.f("ck_agents_credit_limit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
        sa.UniqueConstraint("name", name=op.f("uq_agents_name")),
    )
    op.create_table(
        "agent_stations",
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_agent_stations_agent_id_agents")
        ),
        sa.ForeignKeyConstraint(
            ["station_id"], ["stations.id"], name=op.f("fk_agent_stations_station_id_stations")
        ),
        sa.PrimaryKeyConstraint("station_id", name=op.f("pk_agent_stations")),
    )
    op.create_index(op.f("ix_agent_stations_agent_id"), "agent_stations", ["agent_id"])
    op.create_table(
        "agent_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("vend_id", sa.Integer(), nullable=True),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('topup', 'vend', 'reversal')", name=op.f("ck_agent_entries_kind")
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_agent_entries_agent_id_agents")
        ),
        sa.ForeignKeyConstraint(
            ["vend_id"], ["vends.id"], name=op.f("fk_agent_entries_vend_id_vends")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_entries")),
    )
    op.create_index(op.f("ix_agent_entries_agent_id"), "agent_entries", ["agent_id"])
    op.create_index(op.f("ix_agent_entries_vend_id"), "agent_entries", ["vend_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_agent_entries_vend_id"), table_name="agent_entries")
    op.drop_index(op.f("ix_agent_entries_agent_id"), table_name="agent_entries")
    op.drop_table("agent_entries")
    op.drop_index(op.f("ix_agent_stations_agent_id"), table_name="agent_stations")
    op.drop_table("agent_stations")
    op.drop_table("agents")
    op.drop_table("operator_credentials")
