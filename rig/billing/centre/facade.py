"""The billing centre: a thin facade over one service per area, sharing one unit of work.

Every public method is one database transaction, run by the module of its area (the section
banners below name it; docs/billing.md, "Where things are decided", maps them). Methods take
and return plain values (:mod:`rig.billing.types`); ORM rows never escape a session. Refusals
raise :class:`VendRefused` / :class:`BillingError` with a message for the operator.
:class:`rig.billing.protocol.BillingCentreProtocol` is what a caller may rely on; a served
centre (:class:`rig.billing.remote.RemoteBillingCentre`) offers the same. The areas themselves
and the plumbing they share are built in :mod:`rig.billing.centre.areas`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

from rig.billing import agents, audit
from rig.billing.audit_key import AuditConfig
from rig.billing.centre.areas import CentreAreas
from rig.billing.centre.sts_desk import checked_identity
from rig.billing.display import Display
from rig.billing.types import (
    ApiTokenInfo,
    Band,
    Block,
    CardInfo,
    CardStatus,
    CashierSessionInfo,
    CustomerInfo,
    DailySales,
    DebtInfo,
    HoardingCheck,
    IssuedToken,
    MeterInfo,
    MeterStatus,
    OperatorInfo,
    OperatorRole,
    ReadbackData,
    ReconciliationResult,
    StationInfo,
    StsTokenInfo,
    TariffInfo,
    Tax,
    TokenHolder,
    VendResult,
)
from rig.credit_unit import CreditUnit

if TYPE_CHECKING:
    from rig.billing.protocol import BillingCentreProtocol
    from rig.sts.identity import StsSection


class BillingCentre(CentreAreas):
    """The billing centre over one database. Build with :func:`rig.billing.open_billing`."""

    # -- customers, stations, meters, cards (registry.py) --------------------------------------

    def register_customer(
        self, name: str, account_no: str, address: str = "", *, actor: str = "system",
    ) -> CustomerInfo:
        return self.registry.register_customer(name, account_no, address, actor=actor)

    def register_station(self, code: str, *, actor: str = "system") -> StationInfo:
        return self.registry.register_station(code, actor=actor)

    def register_meter(
        self, meter_no: str, *, customer_account: str, profile: str, credit_unit: CreditUnit | str,
        tariff_code: str, key_revision: int, commissioning_energy_wh: int,
        commissioned_at: datetime, hoarding_limit: int | None = None, actor: str = "system",
        sts: StsSection | dict[str, object] | None = None,
    ) -> MeterInfo:
        """With ``sts``, a keypad meter and its STS identity in one transaction: an identity
        the centre refuses leaves no meter registered."""
        ident = None if sts is None else checked_identity(sts)
        return self.registry.register_meter(
            meter_no, customer_account=customer_account, profile=profile, credit_unit=credit_unit,
            tariff_code=tariff_code, key_revision=key_revision,
            commissioning_energy_wh=commissioning_energy_wh, commissioned_at=commissioned_at,
            hoarding_limit=hoarding_limit, actor=actor,
            also=None if ident is None else partial(self.sts.attach, meter_no=meter_no,
                                                    ident=ident, actor=actor))

    def set_meter_status(
        self, meter_no: str, status: MeterStatus | str, *, actor: str = "system",
    ) -> MeterInfo:
        return self.registry.set_meter_status(meter_no, status, actor=actor)

    def set_hoarding_limit(
        self, meter_no: str, hoarding_limit: int | None, *, actor: str = "system",
    ) -> MeterInfo:
        return self.registry.set_hoarding_limit(meter_no, hoarding_limit, actor=actor)

    def hoarding(self, meter_no: str) -> HoardingCheck:
        return self.registry.hoarding(meter_no)

    def issue_card(
        self, meter_no: str, card_serial: str, card_type: str = "customer", *,
        actor: str = "system",
    ) -> CardInfo:
        return self.registry.issue_card(meter_no, card_serial, card_type, actor=actor)

    def set_card_status(
        self, card_serial: str, status: CardStatus | str, *, actor: str = "system",
    ) -> CardInfo:
        return self.registry.set_card_status(card_serial, status, actor=actor)

    # -- STS keypad meters and their tokens (sts_desk.py) ---------------------------------------

    def register_sts_meter(self, meter_no: str, identity: StsSection | dict[str, object], *,
                           actor: str = "system") -> StsSection:
        return self.sts.register(meter_no, identity, actor=actor)

    def sts_identity(self, meter_no: str) -> StsSection | None:
        return self.sts.identity(meter_no)

    def sts_tokens(self, meter_no: str) -> list[StsTokenInfo]:
        return self.sts.tokens_of(meter_no)

    def sts_management_token(self, meter_no: str, kind: str, value: int = 0, *,
                             operator: str) -> StsTokenInfo:
        return self.sts.management(meter_no, kind, value, operator=operator)

    def sts_key_change(
        self, meter_no: str, *, operator: str, key_revision: int | None = None,
        tariff_index: str | None = None, key_type: int | None = None,
        supply_group: str | None = None, rollover: bool = False,
    ) -> list[StsTokenInfo]:
        return self.sts.key_change(meter_no, operator=operator, key_revision=key_revision,
                                   tariff_index=tariff_index, key_type=key_type,
                                   supply_group=supply_group, rollover=rollover)

    def sts_rollover(self, supply_group: str, *,
                     operator: str) -> dict[str, list[StsTokenInfo]]:
        return self.sts.rollover(supply_group, operator=operator)

    def ingest_serial_readback(self, data: ReadbackData, *,
                               station: str) -> ReconciliationResult:
        """A keypad meter's registers read over its serial port: stored as not MAC-protected
        and reconciled with its token sales (:mod:`.serial_readbacks`)."""
        return self.serial_readbacks.ingest(data, station=station)

    # -- tariffs and pricing (pricing.py) ------------------------------------------------------

    def create_tariff(
        self, code: str, price_per_kwh: Decimal, effective_from: datetime,
        version: int | None = None, *, kind: str = "flat", blocks: tuple[Block, ...] = (),
        bands: tuple[Band, ...] = (), utc_offset_minutes: int = 0,
        fixed_monthly: Decimal = Decimal("0.00"), taxes: tuple[Tax, ...] = (),
        actor: str = "system",
    ) -> TariffInfo:
        return self.tariff_book.create_tariff(
            code, price_per_kwh, effective_from, version, kind=kind, blocks=blocks, bands=bands,
            utc_offset_minutes=utc_offset_minutes, fixed_monthly=fixed_monthly, taxes=taxes,
            actor=actor)

    def tariffs(self, code: str | None = None) -> list[TariffInfo]:
        return self.tariff_book.tariffs(code)

    # -- sales (sales/desk.py) -----------------------------------------------------------------

    def vend(
        self, meter_no: str, amount: Decimal, *, request_id: str, station: str, operator: str,
        require_session: bool = False,
    ) -> VendResult:
        return self.sales.vend(
            meter_no, amount, request_id=request_id, station=station, operator=operator,
            require_session=require_session)

    def quote_vend(
        self, meter_no: str, amount: Decimal, *, station: str, operator: str,
    ) -> VendResult:
        return self.sales.quote_vend(meter_no, amount, station=station, operator=operator)

    def vend_pending_payments(
        self, meter_no: str, *, request_id: str, station: str, operator: str,
    ) -> VendResult | None:
        return self.sales.vend_pending_payments(
            meter_no, request_id=request_id, station=station, operator=operator)

    def mark_written(self, vend_id: int) -> None:
        return self.sales.mark_written(vend_id)

    # -- vend life: free issue, reversal, reprint, replacement (vend_life.py) ------------------

    def free_issue(
        self, meter_no: str, credit: int, *, request_id: str, station: str, operator: str,
        reason: str,
    ) -> VendResult:
        return self.vend_life.free_issue(
            meter_no, credit, request_id=request_id, station=station, operator=operator,
            reason=reason)

    def reverse_vend(self, vend_id: int, *, operator: str, reason: str) -> VendResult:
        return self.vend_life.reverse_vend(vend_id, operator=operator, reason=reason)

    def reprint(self, vend_id: int, *, operator: str, display: Display | None = None) -> str:
        return self.vend_life.reprint(vend_id, operator=operator, display=display)

    def replace_card(
        self, meter_no: str, new_card_serial: str, *, operator: str, reason: str = "lost",
    ) -> tuple[CardInfo, tuple[VendResult, ...]]:
        return self.vend_life.replace_card(
            meter_no, new_card_serial, operator=operator, reason=reason)

    # -- debts and queued meter parameters (meter_account.py) ----------------------------------

    def queue_parameters(self, meter_no: str, *, operator: str, **params: int) -> dict[str, Any]:
        return self.meter_account.queue_parameters(meter_no, operator=operator, **params)

    def pending_parameters(self, meter_no: str) -> dict[str, Any] | None:
        return self.meter_account.pending_parameters(meter_no)

    def add_debt(
        self, meter_no: str, principal: Decimal, description: str, *,
        recovery_percent: Decimal = Decimal(0), recovery_fixed: Decimal = Decimal("0.00"),
        operator: str = "system",
    ) -> DebtInfo:
        return self.meter_account.add_debt(
            meter_no, principal, description, recovery_percent=recovery_percent,
            recovery_fixed=recovery_fixed, operator=operator)

    def debts(self, meter_no: str) -> list[DebtInfo]:
        return self.meter_account.debts(meter_no)

    # -- cashier sessions (cashier.py) ---------------------------------------------------------

    def open_session(
        self, operator: str, station: str, opening_float: Decimal = Decimal("0.00"),
    ) -> CashierSessionInfo:
        return self.cashier.open_session(operator, station, opening_float)

    def close_session(
        self, session_id: int, *, operator: str, counted_cash: Decimal,
    ) -> CashierSessionInfo:
        return self.cashier.close_session(session_id, operator=operator, counted_cash=counted_cash)

    def open_session_of(self, operator: str) -> CashierSessionInfo | None:
        return self.cashier.open_session_of(operator)

    # -- vending agents (agent_desk.py) --------------------------------------------------------

    def register_agent(
        self, name: str, credit_limit: Decimal = Decimal("0.00"), *, actor: str = "system",
    ) -> agents.AgentInfo:
        return self.agent_desk.register_agent(name, credit_limit, actor=actor)

    def assign_agent_station(
        self, agent: str, station: str, *, actor: str = "system",
    ) -> agents.AgentInfo:
        return self.agent_desk.assign_agent_station(agent, station, actor=actor)

    def top_up_agent(
        self, agent: str, amount: Decimal, *, actor: str, reference: str = "",
    ) -> agents.AgentInfo:
        return self.agent_desk.top_up_agent(agent, amount, actor=actor, reference=reference)

    def agent(self, name: str) -> agents.AgentInfo:
        return self.agent_desk.agent(name)

    def list_agents(self, ) -> list[agents.AgentInfo]:
        return self.agent_desk.list_agents()

    def agent_statement(self, name: str) -> list[agents.AgentEntryInfo]:
        return self.agent_desk.agent_statement(name)

    # -- access: operators, passwords, API tokens (access.py) ----------------------------------

    def register_operator(
        self, name: str, role: OperatorRole | str, *, actor: str = "system",
    ) -> OperatorInfo:
        return self.access.register_operator(name, role, actor=actor)

    def set_password(self, operator: str, password: str, *, actor: str = "system") -> None:
        return self.access.set_password(operator, password, actor=actor)

    def authenticate(self, name: str, password: str) -> OperatorInfo | None:
        return self.access.authenticate(name, password)

    def check_login(self, name: str, password: str) -> tuple[OperatorInfo, str] | None:
        return self.access.check_login(name, password)

    def password_stamp(self, name: str) -> str | None:
        return self.access.password_stamp(name)

    def create_api_token(
        self, operator: str, *, actor: str, label: str = "", expires_at: datetime | None = None,
        stations: Iterable[str] = (),
    ) -> IssuedToken:
        return self.access.create_api_token(
            operator, actor=actor, label=label, expires_at=expires_at, stations=stations)

    def revoke_api_token(self, token_id: int, *, actor: str) -> ApiTokenInfo:
        return self.access.revoke_api_token(token_id, actor=actor)

    def api_tokens(self, ) -> list[ApiTokenInfo]:
        return self.access.api_tokens()

    def operator_for_token(self, secret: str) -> OperatorInfo | None:
        return self.access.operator_for_token(secret)

    def token_holder(self, secret: str) -> TokenHolder | None:
        return self.access.token_holder(secret)

    # -- readbacks and reconciliation (readbacks.py) -------------------------------------------

    def ingest_readback(
        self, data: ReadbackData | None = None, *, card_serial: str | None = None,
        raw: bytes | None = None,
    ) -> ReconciliationResult:
        return self.readbacks.ingest_readback(data, card_serial=card_serial, raw=raw)

    def latest_reconciliation(self, meter_no: str) -> ReconciliationResult | None:
        return self.readbacks.latest_reconciliation(meter_no)

    def reconciliation_exceptions(self, ) -> list[ReconciliationResult]:
        return self.readbacks.reconciliation_exceptions()

    # -- queries (queries.py) ------------------------------------------------------------------

    def customers(self, query: str | None = None, *, limit: int = 100) -> list[CustomerInfo]:
        return self.queries.customers(query, limit=limit)

    def customer(self, account_no: str) -> CustomerInfo:
        return self.queries.customer(account_no)

    def meters(self, customer_account: str | None = None) -> list[MeterInfo]:
        return self.queries.meters(customer_account)

    def meter(self, meter_no: str) -> MeterInfo:
        return self.queries.meter(meter_no)

    def cards(self, meter_no: str) -> list[CardInfo]:
        return self.queries.cards(meter_no)

    def card(self, card_serial: str) -> CardInfo:
        return self.queries.card(card_serial)

    def operators(self, ) -> list[OperatorInfo]:
        return self.queries.operators()

    def stations(self, ) -> list[StationInfo]:
        return self.queries.stations()

    def vend_by_id(self, vend_id: int) -> VendResult:
        return self.queries.vend_by_id(vend_id)

    def vends_for_meter(self, meter_no: str) -> list[VendResult]:
        return self.queries.vends_for_meter(meter_no)

    def daily_sales(self, day: date) -> DailySales:
        return self.queries.daily_sales(day)

    # -- audit (audit_desk.py) -----------------------------------------------------------------

    def verify_audit_chain(self, config: AuditConfig | None = None) -> audit.ChainReport:
        return self.audit_desk.verify_audit_chain(config)

    def audit_checkpoint(self, ) -> audit.ChainReport:
        return self.audit_desk.audit_checkpoint()

    def audit_log(self, entity: str | None = None) -> list[audit.AuditEntry]:
        return self.audit_desk.audit_log(entity)


if TYPE_CHECKING:  # mypy proves the facade offers everything the protocol promises
    _satisfies: Callable[..., BillingCentreProtocol] = BillingCentre
