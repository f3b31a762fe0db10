"""The ledger's tables: customers, tariffs, meters, cards, operators, stations, vends, debts,
queued parameters, the audit chain, readbacks and reconciliations."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rig.billing.models.base import (
    CARD_STATUSES,
    CREDIT_UNITS,
    METER_STATUSES,
    MONEY,
    OPERATOR_ROLES,
    PARAMETER_STATUSES,
    PRICE,
    TARIFF_KINDS,
    TENDERS,
    VEND_KINDS,
    VEND_STATUSES,
    VERDICTS,
    Base,
    _in,
)
from rig.billing.money import Exact
from rig.billing.types import VendKind, VendStatus


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_no: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime]

    meters: Mapped[list[Meter]] = relationship(back_populates="customer")


class Tariff(Base):
    """One version of a tariff. Versions of a code never change once vended against."""

    __tablename__ = "tariffs"
    __table_args__ = (
        UniqueConstraint("code", "version"),
        CheckConstraint(_in("kind", TARIFF_KINDS), name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), index=True)
    version: Mapped[int]
    price_per_kwh: Mapped[Decimal] = mapped_column(PRICE)
    effective_from: Mapped[datetime]
    created_at: Mapped[datetime]
    # flat | block | tou; ``structure`` holds blocks or bands with prices as exact strings.
    kind: Mapped[str] = mapped_column(String(8), default="flat", server_default="flat")
    structure: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    fixed_monthly: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0), server_default="0")
    taxes: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)


class Meter(Base):
    __tablename__ = "meters"
    __table_args__ = (
        CheckConstraint(_in("credit_unit", CREDIT_UNITS), name="credit_unit"),
        CheckConstraint(_in("status", METER_STATUSES), name="status"),
        CheckConstraint("last_sequence >= 0", name="last_sequence"),
        CheckConstraint("hoarding_limit IS NULL OR hoarding_limit > 0", name="hoarding_limit"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meter_no: Mapped[str] = mapped_column(String(12), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    profile: Mapped[str] = mapped_column(String(100))
    credit_unit: Mapped[str] = mapped_column(String(16))
    # The tariff the meter was put on; vends use the version of this code in effect at the time.
    tariff_id: Mapped[int] = mapped_column(ForeignKey("tariffs.id"), index=True)
    key_revision: Mapped[int]
    commissioning_energy_wh: Mapped[int] = mapped_column(BigInteger)
    commissioned_at: Mapped[datetime]
    last_sequence: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime]
    # Change below one credit unit kept from the last purchase and spent on the next one.
    change_balance: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0), server_default="0")
    # Most credit (credit units) the meter may hold; a vend beyond it is refused. NULL: no check.
    hoarding_limit: Mapped[int | None] = mapped_column(BigInteger)

    customer: Mapped[Customer] = relationship(back_populates="meters")
    tariff: Mapped[Tariff] = relationship()
    cards: Mapped[list[Card]] = relationship(back_populates="meter")


class Card(Base):
    __tablename__ = "cards"
    __table_args__ = (CheckConstraint(_in("status", CARD_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    card_serial: Mapped[str] = mapped_column(String(64), unique=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"), index=True)
    card_type: Mapped[str] = mapped_column(String(32), default="customer")
    status: Mapped[str] = mapped_column(String(16), default="active")
    issued_at: Mapped[datetime]

    meter: Mapped[Meter] = relationship(back_populates="cards")


class Operator(Base):
    __tablename__ = "operators"
    __table_args__ = (CheckConstraint(_in("role", OPERATOR_ROLES), name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(16))


class Station(Base):
    __tablename__ = "stations"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)


class Vend(Base):
    __tablename__ = "vends"
    __table_args__ = (
        UniqueConstraint("meter_id", "sequence"),
        CheckConstraint(_in("status", VEND_STATUSES), name="status"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint(_in("kind", VEND_KINDS), name="kind"),
        CheckConstraint("credit >= 0", name="credit"),
        CheckConstraint("sequence >= 1", name="sequence"),
        CheckConstraint(_in("tender", TENDERS), name="tender"),
        # A sale's monthly sums (block tariffs, fixed charges) read this month's vends of
        # its meter only, not the meter's whole history (migration 0012).
        Index("ix_vends_meter_id_created_at", "meter_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[str] = mapped_column(String(64), unique=True)
    # Found by meter through uq_vends_meter_id_sequence (meter_id first); never looked up by
    # card. Every index is one more page for each sale to write (migration 0008).
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"))
    # None: a token sale to an STS keypad meter (migration 0013): no card carries it.
    card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"))
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"))
    tariff_id: Mapped[int] = mapped_column(ForeignKey("tariffs.id"))
    amount: Mapped[Decimal]
    credit: Mapped[int] = mapped_column(BigInteger)
    credit_unit: Mapped[str] = mapped_column(String(16))
    sequence: Mapped[int]
    tariff_version: Mapped[int]
    price_per_kwh: Mapped[Decimal] = mapped_column(PRICE)
    key_revision: Mapped[int]
    receipt: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=VendStatus.CREATED.value)
    created_at: Mapped[datetime] = mapped_column(index=True)
    written_at: Mapped[datetime | None]
    confirmed_at: Mapped[datetime | None]
    confirmed_by_readback_id: Mapped[int | None] = mapped_column(ForeignKey("readbacks.id"))
    # sale: money in; free: credit given by a supervisor (amount 0, reason required).
    kind: Mapped[str] = mapped_column(String(8), default=VendKind.SALE.value,
                                      server_default=VendKind.SALE.value)
    reason: Mapped[str | None] = mapped_column(Text)
    energy_charge: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0), server_default="0")
    tax_total: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0), server_default="0")
    fixed_charge: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0), server_default="0")
    debt_recovered: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0), server_default="0")
    change_in: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0), server_default="0")
    change_out: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0), server_default="0")
    reversed_at: Mapped[datetime | None]
    reversed_by_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    reprint_count: Mapped[int] = mapped_column(default=0, server_default="0")
    # cash: paid at the desk; bank: paid by the customer's pending bank payments.
    tender: Mapped[str] = mapped_column(String(8), default="cash", server_default="cash")
    # The cashier session open for the operator when the vend was sold (None: no session).
    session_id: Mapped[int | None] = mapped_column(ForeignKey("cashier_sessions.id"), index=True)

    meter: Mapped[Meter] = relationship()
    card: Mapped[Card | None] = relationship()
    station: Mapped[Station] = relationship()
    operator: Mapped[Operator] = relationship(foreign_keys=[operator_id])
    tariff: Mapped[Tariff] = relationship()


class Debt(Base):
    """Arrears recovered from purchases: a percentage of each payment and/or a fixed amount."""

    __tablename__ = "debts"
    __table_args__ = (
        CheckConstraint("outstanding >= 0", name="outstanding"),
        CheckConstraint("outstanding <= principal", name="not_above_principal"),
        CheckConstraint("recovery_percent >= 0 AND recovery_percent <= 1000000", name="percent"),
        CheckConstraint("recovery_fixed >= 0", name="fixed"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"), index=True)
    description: Mapped[str] = mapped_column(String(200))
    principal: Mapped[Decimal]
    outstanding: Mapped[Decimal]
    recovery_percent: Mapped[Decimal] = mapped_column(PRICE)
    recovery_fixed: Mapped[Decimal]
    created_at: Mapped[datetime]


class DebtRecovery(Base):
    """The part of one vend that went to one debt (undone if the vend is reversed)."""

    __tablename__ = "debt_recoveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    vend_id: Mapped[int] = mapped_column(ForeignKey("vends.id"), index=True)
    debt_id: Mapped[int] = mapped_column(ForeignKey("debts.id"), index=True)
    amount: Mapped[Decimal]


class ParameterChange(Base):
    """Meter parameters (alarm thresholds …) waiting for the next card write of the meter."""

    __tablename__ = "parameter_changes"
    __table_args__ = (CheckConstraint(_in("status", PARAMETER_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"), index=True)
    params: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="queued")
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    vend_id: Mapped[int | None] = mapped_column(ForeignKey("vends.id"))
    written_at: Mapped[datetime | None]


class AuditEvent(Base):
    """Append-only, keyed-hash-chained record of one state change (see rig.billing.audit)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(unique=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))  # unique by construction (covers seq)
    # Id of the audit key whose HMAC ``hash`` is; NULL: a legacy SHA-256 event (migration 0009)
    key_id: Mapped[str | None] = mapped_column(String(16))


class Readback(Base):
    """A readback exactly as received; never edited, so a reconciliation can be replayed."""

    __tablename__ = "readbacks"
    __table_args__ = (CheckConstraint(_in("credit_unit", CREDIT_UNITS), name="credit_unit"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"), index=True)
    card_serial: Mapped[str | None] = mapped_column(String(64))
    energy_wh: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    overdraft: Mapped[int] = mapped_column(BigInteger)
    purchase_count: Mapped[int]
    last_sequence: Mapped[int]
    cumulative_purchase: Mapped[int] = mapped_column(BigInteger)
    credit_unit: Mapped[str] = mapped_column(String(16))
    relay_open: Mapped[bool]
    alarm_active: Mapped[bool]
    alarm_count: Mapped[int]
    cutoff_count: Mapped[int]
    tamper_count: Mapped[int]
    power_down_count: Mapped[int]
    meter_timestamp: Mapped[datetime]
    tariff_version: Mapped[int]
    mac_verified: Mapped[bool]
    raw_hex: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(index=True)


class ReconciledWatermark(Base):
    """How far a meter's vends are settled: every vend up to ``last_sequence`` is confirmed by
    a verified readback or reversed, and neither ever changes again, so their totals are kept
    here and a readback only looks at the vends after it (see :mod:`rig.billing.watermark`).
    No row: nothing settled yet (sequence 0, totals 0)."""

    __tablename__ = "reconciled_watermarks"
    __table_args__ = (
        CheckConstraint("last_sequence >= 0", name="last_sequence"),
        CheckConstraint("applied_count >= 0 AND applied_count <= last_sequence",
                        name="applied_count"),
        CheckConstraint("applied_credit >= 0", name="applied_credit"),
    )

    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"), primary_key=True)
    # The verified readback that moved it here (the auditor's link back along the chain).
    readback_id: Mapped[int] = mapped_column(ForeignKey("readbacks.id"))
    last_sequence: Mapped[int]
    applied_credit: Mapped[int] = mapped_column(BigInteger)  # Σ credit, unreversed vends ≤ it
    applied_count: Mapped[int]  # how many unreversed vends ≤ it


class Reconciliation(Base):
    """Outcome of reconciling one readback; a mismatch row is the reconciliation exception."""

    __tablename__ = "reconciliations"
    __table_args__ = (CheckConstraint(_in("verdict", VERDICTS), name="verdict"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"), index=True)
    readback_id: Mapped[int] = mapped_column(ForeignKey("readbacks.id"), index=True)
    verdict: Mapped[str] = mapped_column(String(16), index=True)
    expected_purchase: Mapped[int] = mapped_column(BigInteger)
    actual_purchase: Mapped[int] = mapped_column(BigInteger)
    expected_consumed: Mapped[Decimal] = mapped_column(Exact)
    actual_consumed: Mapped[Decimal] = mapped_column(Exact)
    evidence: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
