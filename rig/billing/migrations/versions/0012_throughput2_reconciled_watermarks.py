"""A readback's cost no longer grows with the meter's history: ``reconciled_watermarks`` keeps,
per meter, how far its vends are settled (every vend up to ``last_sequence`` confirmed by a
verified readback or reversed) and their totals, and ``ix_vends_meter_id_created_at`` lets a
sale's monthly sums read this month's vends of its meter only.

The watermark of existing data is computed from what is stored: for each meter, the highest
sequence a MAC-verified readback showed applied, no further than the last sequence issued and
below the meter's first vend still unapplied (created or written), with the credit and count of
its unreversed vends up to there. A meter with no verified readback gets no row (nothing
settled). Frozen copy of the schema at this revision (no import of rig.billing.models).

Revision ID: 0012_throughput2
Revises: 0011
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_throughput2"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNAPPLIED = ("created", "written")
meters = sa.table("meters", sa.column("id", sa.Integer), sa.column("last_sequence", sa.Integer))
vends = sa.table("vends", sa.column("meter_id", sa.Integer), sa.column("sequence", sa.Integer),
                 sa.column("credit", sa.BigInteger), sa.column("status", sa.String))
readbacks = sa.table("readbacks", sa.column("id", sa.Integer), sa.column("meter_id", sa.Integer),
                     sa.column("last_sequence", sa.Integer),
                     sa.column("mac_verified", sa.Boolean))


def upgrade() -> None:
    op.create_table(
        "reconciled_watermarks",
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("readback_id", sa.Integer(), nullable=False),
        sa.Column("last_sequence", sa.Integer(), nullable=False),
        sa.Column("applied_credit", sa.BigInteger(), nullable=False),
        sa.Column("applied_count", sa.Integer(), nullable=False),
        sa.CheckConstraint("last_sequence >= 0",
                           name=op.f("ck_reconciled_watermarks_last_sequence")),
        sa.CheckConstraint("applied_count >= 0 AND applied_count <= last_sequence",
                           name=op.f("ck_reconciled_watermarks_applied_count")),
        sa.CheckConstraint("applied_credit >= 0",
                           name=op.f("ck_reconciled_watermarks_applied_credit")),
        sa.ForeignKeyConstraint(["meter_id"], ["meters.id"],
                                name=op.f("fk_reconciled_watermarks_meter_id_meters")),
        sa.ForeignKeyConstraint(["readback_id"], ["readbacks.id"],
                                name=op.f("fk_reconciled_watermarks_readback_id_readbacks")),
        sa.PrimaryKeyConstraint("meter_id", name=op.f("pk_reconciled_watermarks")),
    )
    op.create_index(op.f("ix_vends_meter_id_created_at"), "vends", ["meter_id", "created_at"],
                    unique=False)
    bind = op.get_bind()
    rows = []
    for meter in bind.execute(sa.select(meters.c.id, meters.c.last_sequence)):
        row = _watermark(bind, meter.id, meter.last_sequence)
        if row is not None:
            rows.append(row)
    if rows:
        op.bulk_insert(sa.table(
            "reconciled_watermarks", sa.column("meter_id", sa.Integer),
            sa.column("readback_id", sa.Integer), sa.column("last_sequence", sa.Integer),
            sa.column("applied_credit", sa.BigInteger), sa.column("applied_count", sa.Integer),
        ), rows)


def _watermark(bind: sa.Connection, meter_id: int, issued: int) -> dict[str, int] | None:
    """The settled prefix of one meter's vends, from its stored readbacks and vends."""
    verified = bind.execute(
        sa.select(readbacks.c.id, readbacks.c.last_sequence)
        .where(readbacks.c.meter_id == meter_id, readbacks.c.mac_verified.is_(True))
        .order_by(readbacks.c.last_sequence.desc(), readbacks.c.id.desc()).limit(1)).first()
    if verified is None:
        return None
    first_unapplied = bind.scalar(sa.select(sa.func.min(vends.c.sequence)).where(
        vends.c.meter_id == meter_id, vends.c.status.in_(UNAPPLIED)))
    top = min(verified.last_sequence, issued)
    if first_unapplied is not None:
        top = min(top, first_unapplied - 1)
    if top <= 0:
        return None
    totals = bind.execute(
        sa.select(sa.func.coalesce(sa.func.sum(vends.c.credit), 0), sa.func.count())
        .where(vends.c.meter_id == meter_id, vends.c.sequence <= top,
               vends.c.status != "reversed")).one()
    return {"meter_id": meter_id, "readback_id": verified.id, "last_sequence": top,
            "applied_credit": int(totals[0]), "applied_count": int(totals[1])}


def downgrade() -> None:
    op.drop_index(op.f("ix_vends_meter_id_created_at"), table_name="vends")
    op.drop_table("reconciled_watermarks")
