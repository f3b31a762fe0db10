"""Hypothesis state machine over the emulated meter *firmware* (the engine machine in
test_prepaid_properties covers the engine alone): real MAC'd cards through the card terminal,
the load through the bench world, time jumps on the bench clock, power cycles through the
non-volatile memory, cover openings and DL/T 645 relay commands. At every step, read over the
meter's own protocol where it has one: purchases = consumed + remaining - overdraft exactly,
the relay follows its rules, an unpowered meter draws nothing and answers nothing, and a power
cycle changes no register but the power-down counter and what the clock brought while the
meter was dark."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from rig.billing.types import CreditUnit as BillingCreditUnit
from rig.billing.types import VendResult, VendStatus
from rig.card.application import CardApplication
from rig.card.session import DirectTransport
from rig.errors import CardError
from rig.meter.dlt645 import data_ids as di
from rig.meter.dlt645.frame import Frame
from rig.profile import CreditKind, available_profiles, load_profile
from rig.sim import nvm
from rig.sim.emulated_bench import lab_master_key
from rig.sim.meter_firmware import EmulatedMeter
from rig.sim.prepaid import PrepaidEngine, RelayReason
from rig.sim.world import BenchWorld
from rig.station.vending_station import VendingStation

from .test_firmware_protocols import EPOCH, HandClock

SERIAL = "C0FFEE0000000077"
PROFILES = {name: load_profile(name) for name in available_profiles()}
MASTER = lab_master_key()


class _Ledger:
    def mark_written(self, vend_id: int) -> None:
        pass


class FirmwareMachine(RuleBasedStateMachine):
    meter: EmulatedMeter

    @initialize(name=st.sampled_from(sorted(PROFILES)), hour=st.integers(0, 23))
    def setup(self, name: str, hour: int) -> None:
        self.profile = PROFILES[name]
        self.clock = HandClock()
        self.clock.epoch = EPOCH.replace(hour=hour)
        self.world = BenchWorld(self.profile, self.clock, noise=False)  # type: ignore[arg-type]
        self.meter = EmulatedMeter(self.world, MASTER)
        self.money = self.profile.credit.unit is CreditKind.MONEY
        self.card = CardApplication()
        self.station = VendingStation(_Ledger(), MASTER)  # type: ignore[arg-type]
        self.station.personalise(DirectTransport(self.card), card_serial=SERIAL,
                                 meter_no=self.meter.meter_no,
                                 key_revision=self.profile.card.key_revision)
        self.price = self.profile.credit.factory_price_per_kwh
        self.sequence = 0
        self.purchased = Decimal(0)
        self.consumed = Decimal(0)
        self.energy_wh = 0
        self.units: dict[int, int] = {}
        self.saved: nvm.Image = {}

    @property
    def engine(self):  # type: ignore[no-untyped-def]
        return self.meter.engine

    def _account(self) -> None:
        """Credit consumed since the last step: new whole Wh at the price in force."""
        wh = self.engine.energy_wh - self.energy_wh
        assert wh >= 0
        per_kwh = self.engine.price_per_kwh if self.money else Decimal(1)
        self.consumed += Decimal(wh) * per_kwh / 1000
        self.energy_wh = self.engine.energy_wh

    # -- rules -------------------------------------------------------------------------
    @rule(seconds=st.floats(1, 2 * 86400), watts=st.sampled_from([0, 300, 1500, 2900]))
    def run(self, seconds: float, watts: int) -> None:
        self.world.load.set_power(Decimal(watts))  # before_change integrates up to now
        self.world.load.set_input(watts > 0)
        was_powered = self.meter.powered
        self.clock.t += seconds
        self.world.advance()
        if not was_powered:
            assert self.engine.energy_wh == 0  # RAM wiped; nothing metered while dark
        else:
            self._account()

    @rule(units=st.integers(1, 40_000))
    def buy_and_insert(self, units: int) -> None:
        self.sequence += 1
        self.units[self.sequence] = units
        vend = VendResult(
            vend_id=self.sequence, request_id=f"r{self.sequence}", meter_no=self.meter.meter_no,
            card_serial=SERIAL, sequence=self.sequence, credit=units,
            credit_unit=BillingCreditUnit.MONEY_CENTS if self.money
            else BillingCreditUnit.ENERGY_WH,
            amount=Decimal(units) / 100, tariff_code="T", tariff_version=1,
            price_per_kwh=self.price, key_revision=self.profile.card.key_revision, receipt=(),
            status=VendStatus.CREATED, station="s1", operator="op", created_at=EPOCH)
        try:
            self.station.write_vend(DirectTransport(self.card), vend)
        except CardError:  # the last purchase is still on the card, unapplied: no new vend
            del self.units[self.sequence]
            self.sequence -= 1
        self.insert()

    @rule()
    def insert(self) -> None:
        if self.meter.powered:
            self.world.advance()
            self._account()
        before = nvm.engine_image(self.engine) if self.meter.powered else None
        self.card.reset()
        outcome = self.meter.insert_card(DirectTransport(self.card))
        if outcome.applied_sequence is not None:
            self.purchased += self.engine.profile.from_credit_units(
                self.units[outcome.applied_sequence])
        elif not outcome.accepted and before is not None:
            assert nvm.engine_image(self.engine) == before  # a refusal changes nothing


    @rule()
    def power_cycle(self) -> None:
        if self.meter.powered:
            self.world.advance()
            self._account()
            before = nvm.engine_image(self.engine)
            self.meter.power_down()
            assert self.world.load.drawn_power() == 0
            assert self._silent()
            self.saved = before
        else:
            self.meter.power_up()
            # Expected: the registers saved at power-down, one outage counted, and what the
            # clock brought while dark (a friendly period's end, a power-limit reconnection).
            expected = PrepaidEngine(self.profile)
            nvm.restore_engine(expected, self.saved, self.profile)
            expected.events.power_down_count += 1
            expected.resume(self.clock.now())
            assert nvm.engine_image(self.engine) == nvm.engine_image(expected)
            self.energy_wh = self.engine.energy_wh

    def _silent(self) -> bool:
        """Nothing comes back on either protocol."""
        if self.meter._responder is not None:
            frame = Frame(self.meter.meter_no, 0x11, di.di_to_bytes(di.TIME))
            return self.meter._responder.respond(frame) is None
        assert self.meter._iec is not None
        return self.meter._iec.serve_stream(b"/?!\r\n") == b""

    @precondition(lambda self: self.meter.powered)
    @rule(opened=st.booleans())
    def cover(self, opened: bool) -> None:
        count = self.engine.events.tamper_count
        newly = opened and self.meter.log.cover_open_since is None
        if opened:
            self.meter.open_cover()
        else:
            self.meter.close_cover()
        assert self.engine.events.tamper_count == count + newly
        assert (self.meter.log.cover_open_since is not None) == (opened or (
            count + newly > 0 and self.meter.log.cover_open_since is not None))

    @precondition(lambda self: self.meter.powered)
    @rule(trip=st.booleans())
    def remote_relay(self, trip: bool) -> None:
        settings_ = self.profile.protocol.dlt645
        if settings_ is None or not settings_.remote_relay_control:
            return
        self.world.advance()
        self._account()
        now = self.meter.meter_now().replace(tzinfo=None)
        self.meter._responder.bank.relay_control(  # type: ignore[union-attr]
            0x1A if trip else 0x1C, bytes.fromhex(settings_.password), bytes(4),
            now + timedelta(hours=1))

    # -- invariants --------------------------------------------------------------------
    @invariant()
    def conservation(self) -> None:
        if not self.meter.powered:
            return
        e = self.engine
        assert self.purchased == self.consumed + e.remaining - e.overdraft
        assert e.cumulative_purchase == self.purchased
        if self.meter._responder is not None and self.money:  # and the same over the wire
            reply = self.meter._responder.respond(
                Frame(self.meter.meter_no, 0x11, di.di_to_bytes(di.REMAINING_AMOUNT)))
            assert reply is not None
            shown = di.decode_value(di.REMAINING_AMOUNT, reply.data[4:])
            assert shown == e.remaining.quantize(Decimal("0.01"), rounding="ROUND_DOWN")

    @invariant()
    def relay_rules(self) -> None:
        if not self.meter.powered:
            assert self.world.load.drawn_power() == 0
            return
        e = self.engine
        t = e.profile.thresholds
        now: datetime = self.clock.now()
        if e.relay_closed:
            assert e.relay_reason is RelayReason.CLOSED
            assert e.credit > -t.overdraft_limit or e.in_friendly_period(now)
        elif e.relay_reason is RelayReason.CREDIT_EXHAUSTED:
            assert e.credit <= max(t.close_allowed, -t.overdraft_limit)


FirmwareMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestFirmwareMachine = FirmwareMachine.TestCase
