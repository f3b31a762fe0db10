"""Plain input/output types of the billing centre.

These are the only objects that cross the billing boundary: ORM rows never leave a session, so
callers (scenarios, the card layer, reports) depend on these frozen dataclasses and not on the
database schema. Money is ``Decimal``; credit, energy and counters are ``int`` (credit units / Wh).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from rig.credit_unit import CreditUnit  # the ledger's unit is rig's one CreditUnit


class VendStatus(StrEnum):
    """Vend lifecycle: created → written (on card) → confirmed (by a readback); or reversed."""

    CREATED = "created"
    WRITTEN = "written"
    CONFIRMED = "confirmed"
    REVERSED = "reversed"


class VendKind(StrEnum):
    """What a vend is: a paid sale, or credit given without payment (a free issue)."""

    SALE = "sale"
    FREE = "free"


class CardStatus(StrEnum):
    ACTIVE = "active"
    LOST = "lost"
    REPLACED = "replaced"
    BLOCKED = "blocked"


class MeterStatus(StrEnum):
    ACTIVE = "active"
    BLOCKED = "blocked"


class OperatorRole(StrEnum):
    CASHIER = "cashier"
    SUPERVISOR = "supervisor"
    ADMINISTRATOR = "administrator"


class Verdict(StrEnum):
    BALANCED = "balanced"
    MISMATCH = "mismatch"


@dataclass(frozen=True)
class VendLimits:
    """Per-vend amount limits enforced by the centre (currency, inclusive)."""

    minimum: Decimal = Decimal("1.00")
    maximum: Decimal = Decimal("10000.00")


@dataclass(frozen=True)
class ReceiptLine:
    """One priced component of a vend; the lines of a vend sum to the amount paid."""

    label: str
    amount: Decimal
    detail: str = ""


@dataclass(frozen=True)
class Pricing:
    """Result of pricing a payment: credit to put on the card and the receipt breakdown.

    ``components`` sum exactly to the amount paid: the change brought from the last purchase
    is a negative line, the change kept for the next one a positive line.
    """

    credit: int
    components: tuple[ReceiptLine, ...]
    energy_charge: Decimal = Decimal("0.00")
    tax_total: Decimal = Decimal("0.00")
    fixed_charge: Decimal = Decimal("0.00")
    debt_recovered: tuple[tuple[int, Decimal], ...] = ()  # (debt id, amount)
    change_in: Decimal = Decimal("0.00")
    change_out: Decimal = Decimal("0.00")


@dataclass(frozen=True)
class Block:
    """One step of a block tariff: energy in the billing month up to ``up_to_wh`` (None: no
    upper bound) costs ``price_per_kwh``."""

    up_to_wh: int | None
    price_per_kwh: Decimal


@dataclass(frozen=True)
class Band:
    """A time-of-use band: local time of day in [start_minute, end_minute) (may wrap midnight)."""

    name: str
    start_minute: int
    end_minute: int
    price_per_kwh: Decimal


@dataclass(frozen=True)
class Tax:
    """VAT or a levy, a percentage added on top of the energy charge."""

    name: str
    rate_percent: Decimal


@dataclass(frozen=True)
class DebtInfo:
    debt_id: int
    meter_no: str
    description: str
    principal: Decimal
    outstanding: Decimal
    recovery_percent: Decimal
    recovery_fixed: Decimal


@dataclass(frozen=True)
class CustomerInfo:
    customer_id: int
    name: str
    account_no: str
    address: str


@dataclass(frozen=True)
class TariffInfo:
    """One tariff version. ``price_per_kwh`` is the flat rate (block: first block; TOU: the
    first band) and is what a money meter applies itself."""

    tariff_id: int
    code: str
    version: int
    price_per_kwh: Decimal
    effective_from: datetime
    kind: str = "flat"
    blocks: tuple[Block, ...] = ()
    bands: tuple[Band, ...] = ()
    utc_offset_minutes: int = 0
    fixed_monthly: Decimal = Decimal("0.00")
    taxes: tuple[Tax, ...] = ()


@dataclass(frozen=True)
class MeterInfo:
    meter_id: int
    meter_no: str
    customer_account: str
    profile: str
    credit_unit: CreditUnit
    tariff_code: str
    key_revision: int
    commissioning_energy_wh: int
    commissioned_at: datetime
    last_sequence: int
    status: MeterStatus
    hoarding_limit: int | None = None  # credit units; None: the centre does not check it


@dataclass(frozen=True)
class HoardingCheck:
    """The centre's estimate of a meter's credit against its hoarding limit (credit units).

    ``estimate`` is the balance of the latest readback plus the credit of vends no readback has
    confirmed yet; ``room`` is the most credit that can be vended now (None: no limit);
    ``basis`` says in words what the estimate rests on (a keypad meter's serial readback is not
    MAC-protected)."""

    meter_no: str
    limit: int | None
    estimate: int
    room: int | None
    basis: str = ""


@dataclass(frozen=True)
class CardInfo:
    card_id: int
    card_serial: str
    meter_no: str
    card_type: str
    status: CardStatus


@dataclass(frozen=True)
class OperatorInfo:
    operator_id: int
    name: str
    role: OperatorRole


@dataclass(frozen=True)
class StationInfo:
    station_id: int
    code: str


@dataclass(frozen=True)
class VendResult:
    """Everything the card writer and the receipt printer need for one purchase."""

    vend_id: int
    request_id: str
    meter_no: str
    card_serial: str
    sequence: int
    credit: int
    credit_unit: CreditUnit
    amount: Decimal
    tariff_code: str
    tariff_version: int
    price_per_kwh: Decimal
    key_revision: int
    receipt: tuple[ReceiptLine, ...]
    status: VendStatus
    station: str
    operator: str
    created_at: datetime
    kind: VendKind = VendKind.SALE
    parameters: dict[str, Any] | None = None  # queued meter parameters to write with this vend
    reprint_count: int = 0
    tender: str = "cash"  # cash at the desk | bank: paid by the customer's bank payments
    token: str | None = None  # an STS keypad meter's 20-digit token (no card: card_serial "")


@dataclass(frozen=True)
class StsTokenInfo:
    """One STS token the centre issued: what a receipt or a management slip prints. ``value``
    is the amount carried (kWh) for credit, W for a power limit, else empty."""

    token_id: int
    meter_no: str
    kind: str
    digits: str
    tid: int | None
    base_date: int
    value: str
    issued_at: datetime
    vend_id: int | None = None
    position: int = 1  # a key change set's section


@dataclass(frozen=True)
class ReadbackData:
    """What a card brought back from the meter, in the billing centre's own terms.

    ``remaining``, ``overdraft`` and ``cumulative_purchase`` are in the meter's credit units
    (cents or Wh). ``mac_verified`` is set by the centre alone, when it has verified the raw
    record's MAC itself (:mod:`rig.billing.readback_check`); a caller's value is ignored.
    """

    meter_no: str
    energy_wh: int
    remaining: int
    overdraft: int
    purchase_count: int
    last_sequence: int
    cumulative_purchase: int
    credit_unit: CreditUnit | str
    relay_open: bool
    alarm_active: bool
    alarm_count: int
    cutoff_count: int
    tamper_count: int
    power_down_count: int
    timestamp: datetime
    tariff_version: int
    mac_verified: bool = False


@dataclass(frozen=True)
class Check:
    """One reconciliation check; ``expected``/``actual``/``tolerance`` are exact values."""

    name: str
    expected: Decimal | int | bool | str
    actual: Decimal | int | bool | str
    tolerance: Decimal | int
    passed: bool


@dataclass(frozen=True)
class ReconciliationResult:
    reconciliation_id: int
    readback_id: int
    meter_no: str
    verdict: Verdict
    checks: tuple[Check, ...]
    evidence: dict[str, Any]
    confirmed_vend_ids: tuple[int, ...] = ()
    created_at: datetime | None = None

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.passed)


@dataclass(frozen=True)
class DailySales:
    day: date
    vend_count: int
    total_amount: Decimal
    credit_by_unit: dict[str, int] = field(default_factory=dict)
    amount_by_station: dict[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class CashierSessionInfo:
    """A cashier's shift at a station; ``counted_cash`` is declared when it is closed."""

    session_id: int
    operator: str
    station: str
    status: str
    opened_at: datetime
    closed_at: datetime | None
    opening_float: Decimal
    counted_cash: Decimal | None


@dataclass(frozen=True)
class ApiTokenInfo:
    """A REST API token as listed (never its secret or hash)."""

    token_id: int
    operator: str
    role: OperatorRole
    label: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None = None
    expires_at: datetime | None = None  # None: never
    stations: tuple[str, ...] = ()  # stations it may sell at (none: it may not sell)


@dataclass(frozen=True)
class TokenHolder:
    """Who a live bearer token speaks for, and where it may sell."""

    token_id: int
    operator: OperatorInfo
    stations: tuple[str, ...]
    expires_at: datetime | None


@dataclass(frozen=True)
class IssuedToken:
    """A freshly created token: ``secret`` is shown once and exists nowhere else."""

    info: ApiTokenInfo
    secret: str = field(repr=False)
