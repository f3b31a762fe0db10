"""Vending agents: third-party shops that sell on a prepaid float plus a credit limit.

A station can belong to an agent; every cash sale at it draws the agent's float down and a
reversal gives it back. The balance is the exact ``Decimal`` sum of the agent's entries (one
row per movement, never a stored running total), so the statement always adds up. A sale is
refused when the balance after it would fall below ``-credit_limit``.

These helpers run inside the caller's :class:`~rig.billing.centre.BillingCentre`
transaction; the centre's public methods are the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from rig.billing import models as m

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class AgentInfo:
    agent_id: int
    name: str
    credit_limit: Decimal
    balance: Decimal  # float left (negative: drawing on credit)
    stations: tuple[str, ...]

    @property
    def available(self) -> Decimal:
        """What the agent's stations may still sell: balance plus credit limit."""
        return self.balance + self.credit_limit


@dataclass(frozen=True)
class AgentEntryInfo:
    """One line of an agent statement; ``balance`` is the running balance after it."""

    entry_id: int
    at: datetime
    kind: str
    amount: Decimal
    balance: Decimal
    vend_id: int | None
    reference: str
    actor: str


class FloatExceeded(Exception):
    """Raised inside a vend; the centre turns it into ``VendRefused``."""

    def __init__(self, agent: AgentInfo, amount: Decimal) -> None:
        super().__init__(
            f"agent {agent.name} has {agent.available} available (float {agent.balance} + "
            f"credit limit {agent.credit_limit}); this sale of {amount} would exceed it — "
            "the agent must top up first")
        self.agent = agent


def balance(s: Session, agent_id: int) -> Decimal:
    amounts = s.scalars(select(m.AgentEntry.amount).where(m.AgentEntry.agent_id == agent_id))
    return sum(amounts, ZERO)


def info(s: Session, agent: m.Agent) -> AgentInfo:
    stations = s.scalars(
        select(m.Station.code).join(m.AgentStation, m.AgentStation.station_id == m.Station.id)
        .where(m.AgentStation.agent_id == agent.id).order_by(m.Station.code))
    return AgentInfo(agent.id, agent.name, agent.credit_limit, balance(s, agent.id),
                     tuple(stations))


def for_station(s: Session, station_id: int, *, lock: bool = True) -> m.Agent | None:
    """The agent the station sells for (``lock``: row locked on PostgreSQL), or None."""
    q = select(m.Agent).join(m.AgentStation, m.AgentStation.agent_id == m.Agent.id) \
        .where(m.AgentStation.station_id == station_id)
    return s.scalar(q.with_for_update() if lock else q)


def check_float(s: Session, station_id: int, amount: Decimal, *,
                lock: bool = True) -> m.Agent | None:
    """The station's agent if it can cover ``amount``; FloatExceeded if it cannot (``lock``:
    hold the agent's row until the sale commits; a price quote reads it unlocked)."""
    agent = for_station(s, station_id, lock=lock)
    if agent is None:
        return None
    current = info(s, agent)
    if amount > current.available:
        raise FloatExceeded(current, amount)
    return agent


def draw(s: Session, agent: m.Agent, vend_id: int, amount: Decimal, meter_no: str, actor: str,
         at: datetime) -> m.AgentEntry:
    entry = m.AgentEntry(agent_id=agent.id, kind="vend", amount=-amount, vend_id=vend_id,
                         reference=f"vend {vend_id} meter {meter_no}", actor=actor, at=at)
    s.add(entry)
    s.flush()
    return entry


def refund(s: Session, vend: m.Vend, actor: str, at: datetime) -> m.AgentEntry | None:
    """Give back what a reversed vend drew from its agent's float (None if it drew none)."""
    drawn = s.scalar(select(m.AgentEntry).where(
        m.AgentEntry.vend_id == vend.id, m.AgentEntry.kind == "vend"))
    if drawn is None:
        return None
    entry = m.AgentEntry(agent_id=drawn.agent_id, kind="reversal", amount=-drawn.amount,
                         vend_id=vend.id, reference=f"reversal of vend {vend.id}", actor=actor,
                         at=at)
    s.add(entry)
    s.flush()
    return entry


def statement(s: Session, agent: m.Agent) -> list[AgentEntryInfo]:
    running = ZERO
    out = []
    for e in s.scalars(select(m.AgentEntry).where(m.AgentEntry.agent_id == agent.id)
                       .order_by(m.AgentEntry.id)):
        running += e.amount
        out.append(AgentEntryInfo(e.id, e.at, e.kind, e.amount, running, e.vend_id,
                                  e.reference, e.actor))
    return out
