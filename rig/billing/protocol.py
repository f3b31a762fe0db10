"""What a caller may rely on from a billing centre, local or served.

:class:`~rig.billing.centre.BillingCentre` (a database) and
:class:`~rig.billing.remote.RemoteBillingCentre` (``rig billing serve`` over HTTP) both satisfy
:class:`BillingCentreProtocol`; mypy checks it (see the end of both modules) and
``tests/billing/test_protocol.py`` checks that every method takes the same parameters in both.
The vending station, the scenarios and the suites type their ``billing`` with it, so they work
with either.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from rig.billing.display import Display
from rig.billing.types import (
    Band,
    Block,
    CardInfo,
    CashierSessionInfo,
    CustomerInfo,
    HoardingCheck,
    MeterInfo,
    OperatorInfo,
    OperatorRole,
    ReadbackData,
    ReconciliationResult,
    StationInfo,
    StsTokenInfo,
    TariffInfo,
    Tax,
    VendLimits,
    VendResult,
)
from rig.credit_unit import CreditUnit

if TYPE_CHECKING:
    from rig.sts.identity import StsSection


class BillingCentreProtocol(Protocol):
    """The billing centre as the bench, the scenarios and the station use it."""

    @property
    def limits(self) -> VendLimits:
        """The centre's per-vend amount limits."""

    def close(self) -> None: ...

    # -- registry ---------------------------------------------------------------------------

    def register_customer(self, name: str, account_no: str, address: str = "", *,
                          actor: str = "system") -> CustomerInfo: ...

    def register_operator(self, name: str, role: OperatorRole | str, *,
                          actor: str = "system") -> OperatorInfo: ...

    def register_station(self, code: str, *, actor: str = "system") -> StationInfo: ...

    def register_meter(
        self, meter_no: str, *, customer_account: str, profile: str,
        credit_unit: CreditUnit | str, tariff_code: str, key_revision: int,
        commissioning_energy_wh: int, commissioned_at: datetime,
        hoarding_limit: int | None = None, actor: str = "system",
        sts: StsSection | dict[str, object] | None = None,
    ) -> MeterInfo: ...

    def set_hoarding_limit(self, meter_no: str, hoarding_limit: int | None, *,
                           actor: str = "system") -> MeterInfo: ...

    def hoarding(self, meter_no: str) -> HoardingCheck: ...

    def issue_card(self, meter_no: str, card_serial: str, card_type: str = "customer", *,
                   actor: str = "system") -> CardInfo: ...

    def meter(self, meter_no: str) -> MeterInfo: ...

    # -- tariffs ----------------------------------------------------------------------------

    def create_tariff(
        self, code: str, price_per_kwh: Decimal, effective_from: datetime,
        version: int | None = None, *, kind: str = "flat", blocks: tuple[Block, ...] = (),
        bands: tuple[Band, ...] = (), utc_offset_minutes: int = 0,
        fixed_monthly: Decimal = Decimal("0.00"), taxes: tuple[Tax, ...] = (),
        actor: str = "system",
    ) -> TariffInfo: ...

    def tariffs(self, code: str | None = None) -> list[TariffInfo]: ...

    # -- sales, cashier sessions and vend life ------------------------------------------------

    def vend(self, meter_no: str, amount: Decimal, *, request_id: str, station: str,
             operator: str) -> VendResult: ...

    def open_session(self, operator: str, station: str,
                     opening_float: Decimal = Decimal("0.00")) -> CashierSessionInfo: ...

    def open_session_of(self, operator: str) -> CashierSessionInfo | None: ...

    def mark_written(self, vend_id: int) -> None: ...

    def vend_by_id(self, vend_id: int) -> VendResult: ...

    def vends_for_meter(self, meter_no: str) -> list[VendResult]: ...

    def reverse_vend(self, vend_id: int, *, operator: str, reason: str) -> VendResult: ...

    def reprint(self, vend_id: int, *, operator: str,
                display: Display | None = None) -> str: ...

    # -- readbacks --------------------------------------------------------------------------

    def ingest_readback(self, data: ReadbackData | None = None, *,
                        card_serial: str | None = None,
                        raw: bytes | None = None) -> ReconciliationResult: ...

    def latest_reconciliation(self, meter_no: str) -> ReconciliationResult | None: ...

    # -- STS keypad meters (docs/sts.md): a token sale is vend() like any sale ----------------

    def register_sts_meter(self, meter_no: str, identity: StsSection | dict[str, object], *,
                           actor: str = "system") -> StsSection: ...

    def sts_identity(self, meter_no: str) -> StsSection | None: ...

    def sts_tokens(self, meter_no: str) -> list[StsTokenInfo]: ...

    def sts_management_token(self, meter_no: str, kind: str, value: int = 0, *,
                             operator: str) -> StsTokenInfo: ...

    def sts_key_change(
        self, meter_no: str, *, operator: str, key_revision: int | None = None,
        tariff_index: str | None = None, key_type: int | None = None,
        supply_group: str | None = None, rollover: bool = False,
    ) -> list[StsTokenInfo]: ...

    def sts_rollover(self, supply_group: str, *,
                     operator: str) -> dict[str, list[StsTokenInfo]]: ...

    def ingest_serial_readback(self, data: ReadbackData, *,
                               station: str) -> ReconciliationResult: ...
