"""Cashier sessions (cash-up), vend tender, bank statements and payments, direct-debit
mandates and collections.

Frozen copy of the schema at this revision (no import of rig.billing.models).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bank_statements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.String(length=500), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("statement_id", sa.String(length=100), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_statements")),
        sa.UniqueConstraint("sha256", name=op.f("uq_bank_statements_sha256")),
    )
    op.create_table(
        "cashier_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opening_float", sa.BigInteger(), nullable=False),
        sa.Column("counted_cash", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("status IN ('open', 'closed')", name=op.f("ck_cashier_sessions_status")),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_cashier_sessions_operator_id_operators"),
        ),
        sa.ForeignKeyConstraint(
            ["station_id"], ["stations.id"], name=op.f("fk_cashier_sessions_station_id_stations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cashier_sessions")),
    )
    with op.batch_alter_table("cashier_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cashier_sessions_operator_id"), ["operator_id"], unique=False
        )

    op.create_table(
        "debit_mandates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("mandate_ref", sa.String(length=35), nullable=False),
        sa.Column("iban", sa.String(length=34), nullable=False),
        sa.Column("bic", sa.String(length=11), nullable=True),
        sa.Column("debtor_name", sa.String(length=140), nullable=False),
        sa.Column("signed_on", sa.DateTime(timezone=True), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_debit_mandates_amount_positive")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_debit_mandates_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_debit_mandates")),
        sa.UniqueConstraint("customer_id", name=op.f("uq_debit_mandates_customer_id")),
        sa.UniqueConstraint("mandate_ref", name=op.f("uq_debit_mandates_mandate_ref")),
    )
    op.create_table(
        "direct_debits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("end_to_end_id", sa.String(length=35), nullable=False),
        sa.Column("mandate_id", sa.Integer(), nullable=False),
        sa.Column("collection_date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("sequence_type", sa.String(length=4), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["mandate_id"],
            ["debit_mandates.id"],
            name=op.f("fk_direct_debits_mandate_id_debit_mandates"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_direct_debits")),
        sa.UniqueConstraint("end_to_end_id", name=op.f("uq_direct_debits_end_to_end_id")),
    )
    with op.batch_alter_table("direct_debits", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_direct_debits_mandate_id"), ["mandate_id"], unique=False
        )

    op.create_table(
        "bank_payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_ref", sa.String(length=140), nullable=False),
        sa.Column("statement_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=600), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("booked_on", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reference", sa.String(length=500), nullable=False),
        sa.Column("debtor", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("meter_id", sa.Integer(), nullable=True),
        sa.Column("vend_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'vended', 'unmatched')", name=op.f("ck_bank_payments_status")
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_bank_payments_amount_positive")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_bank_payments_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["meter_id"], ["meters.id"], name=op.f("fk_bank_payments_meter_id_meters")
        ),
        sa.ForeignKeyConstraint(
            ["statement_id"],
            ["bank_statements.id"],
            name=op.f("fk_bank_payments_statement_id_bank_statements"),
        ),
        sa.ForeignKeyConstraint(
            ["vend_id"], ["vends.id"], name=op.f("fk_bank_payments_vend_id_vends")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_payments")),
        sa.UniqueConstraint("entry_ref", name=op.f("uq_bank_payments_entry_ref")),
    )
    with op.batch_alter_table("bank_payments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bank_payments_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_bank_payments_meter_id"), ["meter_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_bank_payments_statement_id"), ["statement_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_bank_payments_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_bank_payments_vend_id"), ["vend_id"], unique=False)

    with op.batch_alter_table("vends", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("tender", sa.String(length=8), server_default="cash", nullable=False)
        )
        batch_op.add_column(sa.Column("session_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_vends_session_id"), ["session_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_vends_session_id_cashier_sessions"),
            "cashier_sessions",
            ["session_id"],
            ["id"],
        )
        batch_op.create_check_constraint(op.f("ck_vends_tender"), "tender IN ('cash', 'bank')")


def downgrade() -> None:
    with op.batch_alter_table("vends", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_vends_tender"), type_="check")
        batch_op.drop_constraint(
            batch_op.f("fk_vends_session_id_cashier_sessions"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_vends_session_id"))
        batch_op.drop_column("session_id")
        batch_op.drop_column("tender")

    with op.batch_alter_table("bank_payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bank_payments_vend_id"))
        batch_op.drop_index(batch_op.f("ix_bank_payments_status"))
        batch_op.drop_index(batch_op.f("ix_bank_payments_statement_id"))
        batch_op.drop_index(batch_op.f("ix_bank_payments_meter_id"))
        batch_op.drop_index(batch_op.f("ix_bank_payments_customer_id"))

    op.drop_table("bank_payments")
    with op.batch_alter_table("direct_debits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_direct_debits_mandate_id"))

    op.drop_table("direct_debits")
    op.drop_table("debit_mandates")
    with op.batch_alter_table("cashier_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cashier_sessions_operator_id"))

    op.drop_table("cashier_sessions")
    op.drop_table("bank_statements")
