"""Bank returns and reversals, and the centre's currency.

``bank_payments`` gets the entry's ``kind`` (credit, debit, credit_return, debit_return), its
``end_to_end_id`` and ``mandate_ref`` (to find the payment a return names), the return's
``return_code``, ``returns_id`` (the payment a return cancelled; unique: a payment is returned
once) and ``debt_id`` (the debt a returned, already vended payment became); statuses
``returned`` and ``applied``. Rows from before are debits if their reason says so, else credits.
``centre_settings`` holds the centre's configuration (``currency``).

Frozen copy of the schema at this revision (no import of rig.billing.models).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = "status IN ('pending', 'vended', 'unmatched')"
NEW_STATUSES = "status IN ('pending', 'vended', 'unmatched', 'returned', 'applied')"
KINDS = "kind IN ('credit', 'debit', 'credit_return', 'debit_return')"


def upgrade() -> None:
    op.create_table(
        "centre_settings",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_centre_settings")),
    )
    with op.batch_alter_table("bank_payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=16), server_default="credit",
                                      nullable=False))
        batch_op.add_column(sa.Column("end_to_end_id", sa.String(length=35), nullable=True))
        batch_op.add_column(sa.Column("mandate_ref", sa.String(length=35), nullable=True))
        batch_op.add_column(sa.Column("return_code", sa.String(length=35), nullable=True))
        batch_op.add_column(sa.Column("returns_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("debt_id", sa.Integer(), nullable=True))
        batch_op.drop_constraint(op.f("ck_bank_payments_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_bank_payments_status"), NEW_STATUSES)
        batch_op.create_check_constraint(op.f("ck_bank_payments_kind"), KINDS)
        batch_op.create_index(batch_op.f("ix_bank_payments_end_to_end_id"), ["end_to_end_id"],
                              unique=False)
        batch_op.create_unique_constraint(batch_op.f("uq_bank_payments_returns_id"),
                                          ["returns_id"])
        batch_op.create_foreign_key(batch_op.f("fk_bank_payments_returns_id_bank_payments"),
                                    "bank_payments", ["returns_id"], ["id"])
        batch_op.create_foreign_key(batch_op.f("fk_bank_payments_debt_id_debts"), "debts",
                                    ["debt_id"], ["id"])
    op.execute("UPDATE bank_payments SET kind = 'debit' WHERE reason LIKE '%a debit (DBIT)%'")


def downgrade() -> None:
    # The old schema knows no returns: they go back to the supervisor's unmatched list.
    op.execute("UPDATE bank_payments SET status = 'unmatched' "
               "WHERE status IN ('returned', 'applied')")
    with op.batch_alter_table("bank_payments", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_bank_payments_debt_id_debts"),
                                 type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_bank_payments_returns_id_bank_payments"),
                                 type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_bank_payments_returns_id"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_bank_payments_end_to_end_id"))
        batch_op.drop_constraint(op.f("ck_bank_payments_kind"), type_="check")
        batch_op.drop_constraint(op.f("ck_bank_payments_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_bank_payments_status"), OLD_STATUSES)
        batch_op.drop_column("debt_id")
        batch_op.drop_column("returns_id")
        batch_op.drop_column("return_code")
        batch_op.drop_column("mandate_ref")
        batch_op.drop_column("end_to_end_id")
        batch_op.drop_column("kind")
    op.drop_table("centre_settings")
