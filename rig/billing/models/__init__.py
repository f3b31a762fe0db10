"""Billing centre schema (SQLAlchemy 2 typed ORM).

Rules that keep the ledger honest on every backend:

* money is ``Decimal`` stored as a scaled ``BIGINT`` (:mod:`rig.billing.money`: amounts in
  cents, prices and rates in 1/10 000, derived figures in 1/10 000 000), exact on SQLite and
  PostgreSQL alike; credit, energy and counters are integers (cents / Wh). No float column.
* datetimes are stored as UTC and returned timezone-aware (:class:`UTCDateTime`).
* constraint names follow a fixed convention so later Alembic (batch) migrations can name them.
* the values a CHECK constraint allows come from the enums of :mod:`rig.billing.types`.

The schema is created only by Alembic migrations (``rig/billing/migrations``); a test asserts the
migrated schema equals this metadata. ``base`` holds the column types and the declarative base,
``ledger`` the ledger's tables, ``desk`` those of the cashier, bank, tokens and agents.
"""

from rig.billing.models.base import (
    CARD_STATUSES,
    CREDIT_UNITS,
    METER_STATUSES,
    MONEY,
    NAMING_CONVENTION,
    OPERATOR_ROLES,
    PARAMETER_STATUSES,
    PAYMENT_KINDS,
    PAYMENT_STATUSES,
    PRICE,
    SESSION_STATUSES,
    TARIFF_KINDS,
    TENDERS,
    VEND_KINDS,
    VEND_STATUSES,
    VERDICTS,
    Base,
    JsonText,
    UTCDateTime,
    to_utc,
)
from rig.billing.models.desk import (
    AGENT_ENTRY_KINDS,
    Agent,
    AgentEntry,
    AgentStation,
    ApiToken,
    BankPayment,
    BankStatement,
    CashierSession,
    CentreSetting,
    DebitMandate,
    DirectDebit,
    OperatorCredential,
)
from rig.billing.models.ledger import (
    AuditEvent,
    Card,
    Customer,
    Debt,
    DebtRecovery,
    Meter,
    Operator,
    ParameterChange,
    Readback,
    ReconciledWatermark,
    Reconciliation,
    Station,
    Tariff,
    Vend,
)
from rig.billing.models.sts import STS_TOKEN_KINDS, ReadbackSource, StsMeter, StsToken

__all__ = [
    "AGENT_ENTRY_KINDS",
    "CARD_STATUSES",
    "CREDIT_UNITS",
    "METER_STATUSES",
    "MONEY",
    "NAMING_CONVENTION",
    "OPERATOR_ROLES",
    "PARAMETER_STATUSES",
    "PAYMENT_KINDS",
    "PAYMENT_STATUSES",
    "PRICE",
    "SESSION_STATUSES",
    "STS_TOKEN_KINDS",
    "TARIFF_KINDS",
    "TENDERS",
    "VEND_KINDS",
    "VEND_STATUSES",
    "VERDICTS",
    "Agent",
    "AgentEntry",
    "AgentStation",
    "ApiToken",
    "AuditEvent",
    "BankPayment",
    "BankStatement",
    "Base",
    "Card",
    "CashierSession",
    "CentreSetting",
    "Customer",
    "DebitMandate",
    "Debt",
    "DebtRecovery",
    "DirectDebit",
    "JsonText",
    "Meter",
    "Operator",
    "OperatorCredential",
    "ParameterChange",
    "Readback",
    "ReadbackSource",
    "ReconciledWatermark",
    "Reconciliation",
    "Station",
    "StsMeter",
    "StsToken",
    "Tariff",
    "UTCDateTime",
    "Vend",
    "to_utc",
]
