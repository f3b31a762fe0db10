"""One centre's areas, built over one unit of work: the registry, tariffs, the STS desk,
sales, vend life, meter accounts, cashier sessions, agents, readbacks, queries and the audit
desk, with the plumbing every caller shares (the clock, a transaction for a module beside the
areas, closing). :class:`~rig.billing.centre.facade.BillingCentre` adds the public methods,
each delegating to one of these.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Self

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from rig.billing.audit_key import AuditConfig
from rig.billing.centre.access import Access
from rig.billing.centre.agent_desk import AgentDesk
from rig.billing.centre.audit_desk import AuditDesk
from rig.billing.centre.cashier import CashierSessions
from rig.billing.centre.meter_account import MeterAccount
from rig.billing.centre.pricing import Tariffs
from rig.billing.centre.queries import Queries
from rig.billing.centre.readbacks import Readbacks
from rig.billing.centre.registry import Registry
from rig.billing.centre.sales.desk import Sales
from rig.billing.centre.serial_readbacks import SerialReadbacks
from rig.billing.centre.sts_desk import StsDesk
from rig.billing.centre.uow import UnitOfWork
from rig.billing.centre.vend_life import VendLife
from rig.billing.readback_keys import ReadbackKeyService
from rig.billing.sts_keys import StsKeyService
from rig.billing.types import VendLimits


class CentreAreas:
    """The areas of one centre and their shared unit of work (what the facade delegates to)."""

    def __init__(
        self,
        engine: Engine,
        *,
        limits: VendLimits | None = None,
        clock: Callable[[], datetime] | None = None,
        audit_config: AuditConfig | None = None,
        readback_keys: ReadbackKeyService | None = None,
        sts_keys: StsKeyService | None = None,
    ) -> None:
        self.uow = UnitOfWork(engine, clock=clock, audit_config=audit_config)
        self.engine = engine
        self.audit_config = self.uow.audit_config
        # The key service that verifies readback MACs; None: every readback stays unverified.
        self.readback_keys = readback_keys
        self.limits = limits or VendLimits()
        self.access = Access(self.uow)
        self.registry = Registry(self.uow, self.access)
        self.tariff_book = Tariffs(self.uow, self.access)
        # The STS vending keys (decoder keys are derived per token, never stored).
        self.sts = StsDesk(self.uow, self.access, sts_keys or StsKeyService.default())
        self.sales = Sales(self.uow, self.tariff_book, self.limits, self.sts)
        self.vend_life = VendLife(self.uow, self.access)
        self.meter_account = MeterAccount(self.uow, self.access)
        self.cashier = CashierSessions(self.uow, self.access)
        self.agent_desk = AgentDesk(self.uow, self.access)
        self.readbacks = Readbacks(self.uow, readback_keys)
        self.serial_readbacks = SerialReadbacks(self.uow)
        self.queries = Queries(self.uow)
        self.audit_desk = AuditDesk(self.uow)

    # -- plumbing -------------------------------------------------------------------------------

    def close(self) -> None:
        self.uow.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def now(self) -> datetime:
        return self.uow.now()

    def transaction(self, operation: str) -> AbstractContextManager[Session]:
        """One write transaction for a module beside the areas (bank, currency, the
        unauthenticated-action record); ``operation`` is what a
        :class:`~rig.billing.BillingBusy` names. Read-only modules (reports, the console's
        lists) use ``uow.reading``; rules shared with an area use that area's service
        (``access``, ``meter_account``)."""
        return self.uow.transaction(operation)
