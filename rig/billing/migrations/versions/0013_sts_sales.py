"""STS token sales: ``sts_meters`` (a keypad meter's STS identity and the newest TID issued to
it), ``sts_tokens`` (every token issued, so a reprint is exact), ``readback_sources`` (a
readback read over a meter's serial port, not MAC-protected) and ``vends.card_id`` nullable (a
token sale has no card). No key is stored.

Frozen copy of the schema at this revision (no import of rig.billing.models).

Revision ID: 0013_sts_sales
Revises: 0012_throughput2
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_sts_sales"
down_revision: str | None = "0012_throughput2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = "kind IN ('credit', 'power_limit', 'clear_credit', 'clear_tamper', 'key_change')"


def upgrade() -> None:
    op.create_table(
        "sts_meters",
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("pan", sa.String(length=18), nullable=False),
        sa.Column("supply_group", sa.String(length=6), nullable=False),
        sa.Column("tariff_index", sa.String(length=2), nullable=False),
        sa.Column("key_revision", sa.Integer(), nullable=False),
        sa.Column("key_type", sa.Integer(), nullable=False),
        sa.Column("dkga", sa.String(length=8), nullable=False),
        sa.Column("encryption", sa.String(length=8), nullable=False),
        sa.Column("base_date", sa.Integer(), nullable=False),
        sa.Column("last_tid", sa.Integer(), nullable=False),
        sa.CheckConstraint("dkga IN ('dkga02', 'dkga04')", name=op.f("ck_sts_meters_dkga")),
        sa.CheckConstraint("encryption IN ('sta', 'dea', 'misty1')",
                           name=op.f("ck_sts_meters_encryption")),
        sa.CheckConstraint("key_type >= 0 AND key_type <= 3", name=op.f("ck_sts_meters_key_type")),
        sa.CheckConstraint("key_revision >= 1 AND key_revision <= 9",
                           name=op.f("ck_sts_meters_key_revision")),
        sa.CheckConstraint("base_date IN (1993, 2014, 2035)",
                           name=op.f("ck_sts_meters_base_date")),
        sa.ForeignKeyConstraint(["meter_id"], ["meters.id"],
                                name=op.f("fk_sts_meters_meter_id_meters")),
        sa.PrimaryKeyConstraint("meter_id", name=op.f("pk_sts_meters")),
        sa.UniqueConstraint("pan", name=op.f("uq_sts_meters_pan")),
    )
    op.create_index(op.f("ix_sts_meters_supply_group"), "sts_meters", ["supply_group"],
                    unique=False)
    op.create_table(
        "sts_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("vend_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("base_date", sa.Integer(), nullable=False),
        sa.Column("tid", sa.Integer(), nullable=True),
        sa.Column("value", sa.String(length=32), nullable=False),
        sa.Column("digits", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(KINDS, name=op.f("ck_sts_tokens_kind")),
        sa.ForeignKeyConstraint(["meter_id"], ["meters.id"],
                                name=op.f("fk_sts_tokens_meter_id_meters")),
        sa.ForeignKeyConstraint(["vend_id"], ["vends.id"],
                                name=op.f("fk_sts_tokens_vend_id_vends")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sts_tokens")),
        sa.UniqueConstraint("meter_id", "base_date", "tid",
                            name=op.f("uq_sts_tokens_meter_id_base_date_tid")),
        sa.UniqueConstraint("vend_id", name=op.f("uq_sts_tokens_vend_id")),
    )
    op.create_index(op.f("ix_sts_tokens_meter_id"), "sts_tokens", ["meter_id"], unique=False)
    op.create_table(
        "readback_sources",
        sa.Column("readback_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("mac_protected", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["readback_id"], ["readbacks.id"],
                                name=op.f("fk_readback_sources_readback_id_readbacks")),
        sa.PrimaryKeyConstraint("readback_id", name=op.f("pk_readback_sources")),
    )
    with op.batch_alter_table("vends", schema=None) as batch_op:
        batch_op.alter_column("card_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    # Token sales have no card to fall back on: the old schema cannot hold them.
    op.execute("DELETE FROM sts_tokens")
    with op.batch_alter_table("vends", schema=None) as batch_op:
        batch_op.alter_column("card_id", existing_type=sa.Integer(), nullable=False)
    op.drop_table("readback_sources")
    op.drop_index(op.f("ix_sts_tokens_meter_id"), table_name="sts_tokens")
    op.drop_table("sts_tokens")
    op.drop_index(op.f("ix_sts_meters_supply_group"), table_name="sts_meters")
    op.drop_table("sts_meters")
