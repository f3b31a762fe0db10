"""Initial billing schema: customers, tariffs, meters, cards, operators, stations, vends,
readbacks, reconciliations.

Frozen copy of the schema at this revision: it must not import rig.billing.models, so later
model changes never rewrite history.

Revision ID: 0001
Revises:
Create Date: 2026-11-24 18:55:09.321244
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_no", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("account_no", name=op.f("uq_customers_account_no")),
    )
    op.create_table(
        "operators",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.CheckConstraint(
            "role IN ('cashier', 'supervisor', 'administrator')", name=op.f("ck_operators_role")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operators")),
        sa.UniqueConstraint("name", name=op.f("uq_operators_name")),
    )
    op.create_table(
        "stations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stations")),
        sa.UniqueConstraint("code", name=op.f("uq_stations_code")),
    )
    op.create_table(
        "tariffs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("price_per_kwh", sa.Numeric(precision=12, scale=4), nullable=False),
        sa.Column("effective_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tariffs")),
        sa.UniqueConstraint("code", "version", name=op.f("uq_tariffs_code_version")),
    )
    op.create_index(op.f("ix_tariffs_code"), "tariffs", ["code"], unique=False)
    op.create_table(
        "meters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meter_no", sa.String(length=12), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("profile", sa.String(length=100), nullable=False),
        sa.Column("credit_unit", sa.String(length=16), nullable=False),
        sa.Column("tariff_id", sa.Integer(), nullable=False),
        sa.Column("key_revision", sa.Integer(), nullable=False),
        sa.Column("commissioning_energy_wh", sa.BigInteger(), nullable=False),
        sa.Column("commissioned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_sequence", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "credit_unit IN ('money_cents', 'energy_wh')", name=op.f("ck_meters_credit_unit")
        ),
        sa.CheckConstraint("status IN ('active', 'blocked')", name=op.f("ck_meters_status")),
        sa.CheckConstraint("last_sequence >= 0", name=op.f("ck_meters_last_sequence")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_meters_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["tariff_id"], ["tariffs.id"], name=op.f("fk_meters_tariff_id_tariffs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meters")),
        sa.UniqueConstraint("meter_no", name=op.f("uq_meters_meter_no")),
    )
    op.create_index(op.f("ix_meters_customer_id"), "meters", ["customer_id"], unique=False)
    op.create_index(op.f("ix_meters_tariff_id"), "meters", ["tariff_id"], unique=False)
    op.create_table(
        "cards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("card_serial", sa.String(length=64), nullable=False),
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("card_type", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'lost', 'replaced', 'blocked')", name=op.f("ck_cards_status")
        ),
        sa.ForeignKeyConstraint(["meter_id"], ["meters.id"], name=op.f("fk_cards_meter_id_meters")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cards")),
        sa.UniqueConstraint("card_serial", name=op.f("uq_cards_card_serial")),
    )
    op.create_index(op.f("ix_cards_meter_id"), "cards", ["meter_id"], unique=False)
    op.create_table(
        "readbacks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("card_serial", sa.String(length=64), nullable=True),
        sa.Column("energy_wh", sa.BigInteger(), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.Column("overdraft", sa.BigInteger(), nullable=False),
        sa.Column("purchase_count", sa.Integer(), nullable=False),
        sa.Column("last_sequence", sa.Integer(), nullable=False),
        sa.Column("cumulative_purchase", sa.BigInteger(), nullable=False),
        sa.Column("credit_unit", sa.String(length=16), nullable=False),
        sa.Column("relay_open", sa.Boolean(), nullable=False),
        sa.Column("alarm_active", sa.Boolean(), nullable=False),
        sa.Column("alarm_count", sa.Integer(), nullable=False),
        sa.Column("cutoff_count", sa.Integer(), nullable=False),
        sa.Column("tamper_count", sa.Integer(), nullable=False),
        sa.Column("power_down_count", sa.Integer(), nullable=False),
        sa.Column("meter_timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tariff_version", sa.Integer(), nullable=False),
        sa.Column("mac_verified", sa.Boolean(), nullable=False),
        sa.Column("raw_hex", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "credit_unit IN ('money_cents', 'energy_wh')", name=op.f("ck_readbacks_credit_unit")
        ),
        sa.ForeignKeyConstraint(
            ["meter_id"], ["meters.id"], name=op.f("fk_readbacks_meter_id_meters")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_readbacks")),
    )
    op.create_index(op.f("ix_readbacks_meter_id"), "readbacks", ["meter_id"], unique=False)
    op.create_index(op.f("ix_readbacks_received_at"), "readbacks", ["received_at"], unique=False)
    op.create_table(
        "reconciliations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("readback_id", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("expected_purchase", sa.BigInteger(), nullable=False),
        sa.Column("actual_purchase", sa.BigInteger(), nullable=False),
        sa.Column("expected_consumed", sa.Numeric(precision=12, scale=4), nullable=False),
        sa.Column("actual_consumed", sa.Numeric(precision=12, scale=4), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "verdict IN ('balanced', 'mismatch')", name=op.f("ck_reconciliations_verdict")
        ),
        sa.ForeignKeyConstraint(
            ["meter_id"], ["meters.id"], name=op.f("fk_reconciliations_meter_id_meters")
        ),
        sa.ForeignKeyConstraint(
            ["readback_id"], ["readbacks.id"], name=op.f("fk_reconciliations_readback_id_readbacks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliations")),
    )
    op.create_index(
        op.f("ix_reconciliations_meter_id"), "reconciliations", ["meter_id"], unique=False
    )
    op.create_index(
        op.f("ix_reconciliations_readback_id"), "reconciliations", ["readback_id"], unique=False
    )
    op.create_index(
        op.f("ix_reconciliations_verdict"), "reconciliations", ["verdict"], unique=False
    )
    op.create_table(
        "vends",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("card_id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("tariff_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("credit", sa.BigInteger(), nullable=False),
        sa.Column("credit_unit", sa.String(length=16), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("tariff_version", sa.Integer(), nullable=False),
        sa.Column("price_per_kwh", sa.Numeric(precision=12, scale=4), nullable=False),
        sa.Column("key_revision", sa.Integer(), nullable=False),
        sa.Column("receipt", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_by_readback_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "status IN ('created', 'written', 'confirmed', 'reversed')",
            name=op.f("ck_vends_status"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_vends_amount_positive")),
        sa.CheckConstraint("credit >= 0", name=op.f("ck_vends_credit")),
        sa.CheckConstraint("sequence >= 1", name=op.f("ck_vends_sequence")),
        sa.ForeignKeyConstraint(["card_id"], ["cards.id"], name=op.f("fk_vends_card_id_cards")),
        sa.ForeignKeyConstraint(
            ["confirmed_by_readback_id"],
            ["readbacks.id"],
            name=op.f("fk_vends_confirmed_by_readback_id_readbacks"),
        ),
        sa.ForeignKeyConstraint(["meter_id"], ["meters.id"], name=op.f("fk_vends_meter_id_meters")),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operators.id"], name=op.f("fk_vends_operator_id_operators")
        ),
        sa.ForeignKeyConstraint(
            ["station_id"], ["stations.id"], name=op.f("fk_vends_station_id_stations")
        ),
        sa.ForeignKeyConstraint(
            ["tariff_id"], ["tariffs.id"], name=op.f("fk_vends_tariff_id_tariffs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vends")),
        sa.UniqueConstraint("meter_id", "sequence", name=op.f("uq_vends_meter_id_sequence")),
        sa.UniqueConstraint("request_id", name=op.f("uq_vends_request_id")),
    )
    op.create_index(op.f("ix_vends_card_id"), "vends", ["card_id"], unique=False)
    op.create_index(op.f("ix_vends_created_at"), "vends", ["created_at"], unique=False)
    op.create_index(op.f("ix_vends_meter_id"), "vends", ["meter_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_vends_meter_id"), table_name="vends")
    op.drop_index(op.f("ix_vends_created_at"), table_name="vends")
    op.drop_index(op.f("ix_vends_card_id"), table_name="vends")
    op.drop_table("vends")
    op.drop_index(op.f("ix_reconciliations_verdict"), table_name="reconciliations")
    op.drop_index(op.f("ix_reconciliations_readback_id"), table_name="reconciliations")
    op.drop_index(op.f("ix_reconciliations_meter_id"), table_name="reconciliations")
    op.drop_table("reconciliations")
    op.drop_index(op.f("ix_readbacks_received_at"), table_name="readbacks")
    op.drop_index(op.f("ix_readbacks_meter_id"), table_name="readbacks")
    op.drop_table("readbacks")
    op.drop_index(op.f("ix_cards_meter_id"), table_name="cards")
    op.drop_table("cards")
    op.drop_index(op.f("ix_meters_tariff_id"), table_name="meters")
    op.drop_index(op.f("ix_meters_customer_id"), table_name="meters")
    op.drop_table("meters")
    op.drop_index(op.f("ix_tariffs_code"), table_name="tariffs")
    op.drop_table("tariffs")
    op.drop_table("stations")
    op.drop_table("operators")
    op.drop_table("customers")
