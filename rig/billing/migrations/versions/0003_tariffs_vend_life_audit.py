"""Tariff structures, vend life (free issue, reversal, change, debts, queued parameters) and
the hash-chained audit log (append-only: triggers refuse UPDATE and DELETE).

Frozen copy of the schema at this revision (no import of rig.billing.models).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = {
    "sqlite": (
        "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
        "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
        "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
        "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
    ),
    "postgresql": (
        "CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$",
        "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()",
    ),
}
DROP_APPEND_ONLY = {
    "sqlite": (
        "DROP TRIGGER IF EXISTS audit_events_no_update",
        "DROP TRIGGER IF EXISTS audit_events_no_delete",
    ),
    "postgresql": (
        "DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events",
        "DROP FUNCTION IF EXISTS audit_events_append_only()",
    ),
}


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_events_hash")),
        sa.UniqueConstraint("seq", name=op.f("uq_audit_events_seq")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_action"), ["action"], unique=False)

    op.create_table(
        "debts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("principal", sa.BigInteger(), nullable=False),
        sa.Column("outstanding", sa.BigInteger(), nullable=False),
        sa.Column("recovery_percent", sa.BigInteger(), nullable=False),
        sa.Column("recovery_fixed", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("outstanding <= principal", name=op.f("ck_debts_not_above_principal")),
        sa.CheckConstraint("outstanding >= 0", name=op.f("ck_debts_outstanding")),
        sa.CheckConstraint("recovery_fixed >= 0", name=op.f("ck_debts_fixed")),
        sa.CheckConstraint(
            "recovery_percent >= 0 AND recovery_percent <= 1000000", name=op.f("ck_debts_percent")
        ),
        sa.ForeignKeyConstraint(["meter_id"], ["meters.id"], name=op.f("fk_debts_meter_id_meters")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_debts")),
    )
    with op.batch_alter_table("debts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_debts_meter_id"), ["meter_id"], unique=False)

    op.create_table(
        "debt_recoveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vend_id", sa.Integer(), nullable=False),
        sa.Column("debt_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["debt_id"], ["debts.id"], name=op.f("fk_debt_recoveries_debt_id_debts")
        ),
        sa.ForeignKeyConstraint(
            ["vend_id"], ["vends.id"], name=op.f("fk_debt_recoveries_vend_id_vends")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_debt_recoveries")),
    )
    with op.batch_alter_table("debt_recoveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_debt_recoveries_debt_id"), ["debt_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_debt_recoveries_vend_id"), ["vend_id"], unique=False)

    op.create_table(
        "parameter_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("vend_id", sa.Integer(), nullable=True),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'written', 'cancelled')", name=op.f("ck_parameter_changes_status")
        ),
        sa.ForeignKeyConstraint(
            ["meter_id"], ["meters.id"], name=op.f("fk_parameter_changes_meter_id_meters")
        ),
        sa.ForeignKeyConstraint(
            ["vend_id"], ["vends.id"], name=op.f("fk_parameter_changes_vend_id_vends")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parameter_changes")),
    )
    with op.batch_alter_table("parameter_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_parameter_changes_meter_id"), ["meter_id"], unique=False
        )

    with op.batch_alter_table("meters", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("change_balance", sa.BigInteger(), server_default="0", nullable=False)
        )

    with op.batch_alter_table("tariffs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=8), server_default="flat", nullable=False)
        )
        batch_op.add_column(sa.Column("structure", sa.JSON(), server_default="{}", nullable=False))
        batch_op.add_column(
            sa.Column("fixed_monthly", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("taxes", sa.JSON(), server_default="[]", nullable=False))
        batch_op.create_check_constraint(
            op.f("ck_tariffs_kind"), "kind IN ('flat', 'block', 'tou')"
        )

    with op.batch_alter_table("vends", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=8), server_default="sale", nullable=False)
        )
        batch_op.add_column(sa.Column("reason", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("energy_charge", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("tax_total", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("fixed_charge", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("debt_recovered", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("change_in", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("change_out", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("reversed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("reversed_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("reprint_count", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_vends_reversed_by_id_operators"), "operators", ["reversed_by_id"], ["id"]
        )
        batch_op.drop_constraint(op.f("ck_vends_amount_positive"), type_="check")
        batch_op.create_check_constraint(op.f("ck_vends_amount_not_negative"), "amount >= 0")
        batch_op.create_check_constraint(op.f("ck_vends_kind"), "kind IN ('sale', 'free')")

    for statement in APPEND_ONLY.get(op.get_bind().dialect.name, ()):
        op.execute(statement)


def downgrade() -> None:
    for statement in DROP_APPEND_ONLY.get(op.get_bind().dialect.name, ()):
        op.execute(statement)
    with op.batch_alter_table("vends", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_vends_kind"), type_="check")
        batch_op.drop_constraint(op.f("ck_vends_amount_not_negative"), type_="check")
        batch_op.create_check_constraint(op.f("ck_vends_amount_positive"), "amount > 0")
        batch_op.drop_constraint(
            batch_op.f("fk_vends_reversed_by_id_operators"), type_="foreignkey"
        )
        batch_op.drop_column("reprint_count")
        batch_op.drop_column("reversed_by_id")
        batch_op.drop_column("reversed_at")
        batch_op.drop_column("change_out")
        batch_op.drop_column("change_in")
        batch_op.drop_column("debt_recovered")
        batch_op.drop_column("fixed_charge")
        batch_op.drop_column("tax_total")
        batch_op.drop_column("energy_charge")
        batch_op.drop_column("reason")
        batch_op.drop_column("kind")

    with op.batch_alter_table("tariffs", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_tariffs_kind"), type_="check")
        batch_op.drop_column("taxes")
        batch_op.drop_column("fixed_monthly")
        batch_op.drop_column("structure")
        batch_op.drop_column("kind")

    with op.batch_alter_table("meters", schema=None) as batch_op:
        batch_op.drop_column("change_balance")

    with op.batch_alter_table("parameter_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_parameter_changes_meter_id"))

    op.drop_table("parameter_changes")
    with op.batch_alter_table("debt_recoveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_debt_recoveries_vend_id"))
        batch_op.drop_index(batch_op.f("ix_debt_recoveries_debt_id"))

    op.drop_table("debt_recoveries")
    with op.batch_alter_table("debts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_debts_meter_id"))

    op.drop_table("debts")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_action"))

    op.drop_table("audit_events")
