"""Hypothesis state machine over the prepaid engine: random purchases, loads, time jumps, card
insertions, emergency requests and tariff changes, for every shipped profile. At every step:
purchases = consumed + remaining - overdraft exactly, and the relay follows its rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from rig.profile import CreditKind, available_profiles, load_profile
from rig.sim.prepaid import PrepaidEngine, RelayReason

PROFILES = {name: load_profile(name) for name in available_profiles()}


class EngineMachine(RuleBasedStateMachine):
    engine: PrepaidEngine

    @initialize(name=st.sampled_from(sorted(PROFILES)),
                start=st.datetimes(datetime(2026, 1, 1), datetime(2026, 12, 31)))
    def setup(self, name: str, start: datetime) -> None:
        self.engine = PrepaidEngine(PROFILES[name])
        self.now = start.replace(tzinfo=UTC)
        self.purchased = Decimal(0)
        self.consumed = Decimal(0)
        self.sequence = 0

    def _price_per_wh(self) -> Decimal:
        e = self.engine
        if e.profile.credit.unit is CreditKind.MONEY:
            return e.price_per_kwh / 1000
        return Decimal("0.001")

    @rule(seconds=st.floats(1, 3 * 86400), watts=st.sampled_from([0, 150, 2200, 9000, 12000]))
    def consume(self, seconds: float, watts: int) -> None:
        before = self.engine.energy_wh
        self.engine.advance(seconds, Decimal(watts), self.now)
        self.now += timedelta(seconds=seconds)
        assert self.engine.energy_wh >= before
        self.consumed += (self.engine.energy_wh - before) * self._price_per_wh()

    @rule(units=st.integers(1, 50_000))
    def purchase(self, units: int) -> None:
        e = self.engine
        if e.would_hoard(units):
            return  # the card terminal refuses it: nothing changes
        was_closed = e.relay_closed
        self.sequence += 1
        e.apply_purchase(self.sequence, units, self.now)
        self.purchased += e.credit_from_units(units)
        if not was_closed and e.relay_closed:
            t = e.profile.thresholds
            assert e.credit > t.close_allowed

    @rule()
    def insert_card(self) -> None:
        reason = self.engine.relay_reason
        if self.engine.card_inserted(self.now):
            assert reason is RelayReason.ALARM2_TRIP

    @rule()
    def ask_for_emergency(self) -> None:
        before = self.engine.emergency_outstanding
        if self.engine.request_emergency_credit(self.now):
            ec = self.engine.profile.emergency_credit
            assert ec is not None and before == 0
            assert self.engine.emergency_outstanding == ec.amount

    @rule(version=st.integers(1, 5), price=st.decimals("0.1", "2", places=4))
    def new_tariff(self, version: int, price: Decimal) -> None:
        self.engine.apply_tariff(version, price)

    @invariant()
    def conservation(self) -> None:
        e = self.engine
        assert self.purchased == self.consumed + e.remaining - e.overdraft
        assert e.cumulative_purchase == self.purchased
        assert e.credit == e.balance + e.emergency_outstanding
        assert e.emergency_outstanding >= 0

    @invariant()
    def relay_rules(self) -> None:
        e = self.engine
        t = e.profile.thresholds
        if e.relay_closed:
            assert e.relay_reason is RelayReason.CLOSED
            assert e.credit > -t.overdraft_limit or e.in_friendly_period(self.now)
        elif e.relay_reason is RelayReason.CREDIT_EXHAUSTED:
            assert e.credit <= max(t.close_allowed, -t.overdraft_limit)
        elif e.relay_reason is RelayReason.POWER_LIMIT:
            assert e.reconnect_at is not None and e.reconnect_at > self.now
        if e.events.last_cutoff is not None:
            assert not e.in_friendly_period(e.events.last_cutoff)
        if e.alarm1_active:
            assert e.credit <= t.alarm1
        if e.alarm2_active:
            assert e.credit <= t.alarm2


EngineMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestEngineMachine = EngineMachine.TestCase
