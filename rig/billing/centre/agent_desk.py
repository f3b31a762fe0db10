"""Vending agents: a shop that sells credit from a float it paid in (:mod:`rig.billing.agents`
holds the float's arithmetic; a sale draws on it in :mod:`.sales.steps`)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rig.billing import agents
from rig.billing import models as m
from rig.billing.centre import lookup
from rig.billing.centre.access import Access
from rig.billing.centre.errors import Conflict, NotFound
from rig.billing.centre.uow import UnitOfWork
from rig.billing.tariffs import CENT
from rig.errors import BillingError


class AgentDesk:
    """Registering agents, binding their stations, topping up and reading their floats."""

    def __init__(self, uow: UnitOfWork, access: Access) -> None:
        self.uow = uow
        self.access = access

    def register_agent(self, name: str, credit_limit: Decimal = Decimal("0.00"), *,
                       actor: str = "system") -> agents.AgentInfo:
        """A vending agent with an empty float; ``actor`` must not be a cashier."""
        limit = lookup.decimal(credit_limit, "credit limit")
        if not name.strip():
            raise BillingError("an agent needs a name")
        if limit < 0 or limit != limit.quantize(CENT):
            raise BillingError(f"credit limit {limit} must be ≥ 0 in whole cents")
        try:
            with self.uow.transaction("register_agent") as s:
                self.access.require_role(s, actor, "register an agent", allow_system=True)
                row = m.Agent(name=name, credit_limit=limit, created_at=self.uow.now())
                s.add(row)
                s.flush()
                result = agents.info(s, row)
                self.uow.audit(s, actor, "agent.register", "agent", row.id, None, result)
                return result
        except IntegrityError:
            raise Conflict(f"agent {name!r} already exists") from None

    def assign_agent_station(self, agent: str, station: str, *,
                             actor: str = "system") -> agents.AgentInfo:
        """Make ``station`` sell for ``agent`` (a station sells for one agent at most)."""
        with self.uow.transaction("assign_agent_station") as s:
            self.access.require_role(s, actor, "assign agent stations", allow_system=True)
            row = self._agent(s, agent)
            st = lookup.station(s, station)
            if s.get(m.AgentStation, st.id) is not None:
                raise Conflict(f"station {station} already sells for an agent")
            s.add(m.AgentStation(station_id=st.id, agent_id=row.id))
            s.flush()
            result = agents.info(s, row)
            self.uow.audit(s, actor, "agent.station", "agent", row.id, None,
                           {"station": station})
            return result

    def top_up_agent(self, agent: str, amount: Decimal, *, actor: str,
                     reference: str = "") -> agents.AgentInfo:
        """Add money the agent paid in to its float (supervisor or administrator)."""
        value = lookup.decimal(amount, "top-up amount")
        if value <= 0 or value != value.quantize(CENT):
            raise BillingError(f"top-up {value} must be positive in whole cents")
        with self.uow.transaction("top_up_agent") as s:
            self.access.require_role(s, actor, "top up an agent")
            row = self._agent(s, agent, lock=True)
            entry = m.AgentEntry(agent_id=row.id, kind="topup", amount=value,
                                 reference=reference, actor=actor, at=self.uow.now())
            s.add(entry)
            s.flush()
            result = agents.info(s, row)
            self.uow.audit(s, actor, "agent.topup", "agent", row.id, None,
                           {"amount": value, "reference": reference,
                            "balance": result.balance, "entry_id": entry.id})
            return result

    def agent(self, name: str) -> agents.AgentInfo:
        with self.uow.transaction("agent") as s:
            return agents.info(s, self._agent(s, name))

    def list_agents(self) -> list[agents.AgentInfo]:
        with self.uow.transaction("list_agents") as s:
            return [agents.info(s, a) for a in s.scalars(select(m.Agent).order_by(m.Agent.name))]

    def agent_statement(self, name: str) -> list[agents.AgentEntryInfo]:
        """Every movement of the agent's float, oldest first, with the running balance."""
        with self.uow.transaction("agent_statement") as s:
            return agents.statement(s, self._agent(s, name))

    def _agent(self, s: Session, name: str, *, lock: bool = False) -> m.Agent:
        q = select(m.Agent).where(m.Agent.name == name)
        row = s.scalar(q.with_for_update() if lock else q)
        if row is None:
            raise NotFound(f"agent {name!r} is not registered")
        return row
