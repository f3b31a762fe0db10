"""The prepaid cycle with an STS token instead of a card (`rig run --medium token`): register
the meter with its STS identity, sell, type the token on the keypad, consume to the alarms and
the cut-off, read the registers over the meter's serial port and reconcile.

It is the card cycle (:mod:`rig.scenarios.prepaid_cycle`) with the card phases replaced: the
consumption, alarm and cut-off phases are the same code, judged by the same predictions.
Where a card meter is acknowledged with its card (an alarm-2 relay trip), a keypad meter is
acknowledged on its keypad. A money keypad meter takes a currency token and prices energy at
its own rate (no card brings it a tariff): the cycle's tariff is that rate. The readback
carries no MAC (there is no card): the record says so, and the centre's reconciliation judges
its figures (docs/sts.md).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC
from decimal import Decimal

from rig.bench.bench import Bench
from rig.bench.courier import Delivery
from rig.bench.keypad import keypad_for
from rig.billing.centre.facade import BillingCentre
from rig.billing.types import ReadbackData, VendResult
from rig.errors import RigError
from rig.report.record import RunRecord
from rig.scenarios.prepaid_cycle import (
    PHASES,
    CycleParams,
    CycleResult,
    PrepaidCycle,
    record_reconciliation,
)
from rig.scenarios.steps import BenchSteps, attach_reconciliation
from rig.sts.token import grouped

TOKEN_PHASES = [
    PHASES[0],  # register customer and meter
    "register the STS identity",
    PHASES[2],  # buy credit
    "type the token on the keypad",
    *PHASES[5:9],  # consume to alarm, to cut-off, verify cut-off, load off
    "read the registers over serial",
    "upload readback and reconcile",
]


class KeypadSteps(BenchSteps):
    """The bench steps of a keypad meter: no card; an alarm-2 trip is acknowledged on the
    meter's keypad (the `acknowledge` key; on a real bench the operator presses it)."""

    def insert_into_meter(self, *, expect_accepted: bool = True) -> Delivery:
        granted = self.press_meter_key("acknowledge")
        if expect_accepted and not granted:
            raise RigError("the meter did not take the acknowledgement on its keypad")
        return Delivery("meter", "acknowledged on the keypad", accepted=granted)


class TokenCycle(PrepaidCycle):
    """One run of the cycle with a token, on a profile with an `[sts]` section."""

    def __init__(self, bench: Bench, billing: BillingCentre, record: RunRecord,
                 params: CycleParams | None = None) -> None:
        if bench.profile.sts is None:
            raise RigError(f"profile {bench.profile.name!r} has no [sts] section: its meter "
                           "takes no tokens (docs/meter-profiles.md)")
        super().__init__(bench, billing, record, params)
        self.steps = KeypadSteps(bench, billing, record)
        if self.steps.money:
            # A currency token carries money, not a price, and no card brings the tariff: a
            # money keypad meter prices energy at its own rate (the profile's), so the cycle
            # sells on a tariff at that rate and predicts its alarms from it.
            self.params = replace(self.params,
                                  price_per_kwh=bench.profile.credit.factory_price_per_kwh)
        self.billing = billing

    def run(self) -> CycleResult:
        try:
            self.register()
            vend = self.buy()  # the card cycle's "buy credit", with the token measured
            self.type_token(vend)
            self.consume_to_alarm()
            self.consume_to_cutoff()
            self.verify_cutoff()
            self.load_off()
            self.serial_readback()
        finally:
            self.bench.safe_state()
            self._attach_evidence()
        return self.result

    def register(self) -> None:
        super().register()
        sts = self.bench.profile.sts
        assert sts is not None
        with self.record.step(TOKEN_PHASES[1]):
            ident = self.billing.register_sts_meter(self.steps.meter_no, sts,
                                                    actor="system")
            self.record.measure("STS PAN registered", ident.pan, equals=sts.pan)
            self.record.measure("STS base date", ident.base_date, equals=sts.base_date)

    def measure_medium(self, vend: VendResult) -> None:
        token = vend.token or ""
        self.record.measure("token digits", len(token), equals=20, description=grouped(token))

    def type_token(self, vend: VendResult) -> None:
        with self.record.step(TOKEN_PHASES[3]):
            entry = keypad_for(self.bench.sim).enter(vend.token or "")
            self.record.measure("meter display", entry.display, equals="Accept")
            state = self.steps.meter.state()
            self.record.measure("remaining credit after the token", state.remaining,
                                self.steps.unit, equals=self.result.credit_bought)
            self.record.measure("relay closed after purchase", not state.relay_open,
                                equals=True)

    def serial_readback(self) -> None:
        s, p = self.steps, self.bench.profile
        with self.record.step(TOKEN_PHASES[8]):
            client = self.bench.meter
            state = s.meter.state()
            data = ReadbackData(
                meter_no=s.meter_no,
                energy_wh=int(s.meter.settled_energy_kwh() * 1000),
                remaining=p.to_credit_units(state.remaining),
                overdraft=p.to_credit_units(state.overdraft),
                purchase_count=client.purchase_count(), last_sequence=0,
                cumulative_purchase=p.to_credit_units(client.cumulative_purchase()),
                credit_unit="money_cents" if s.money else "energy_wh",
                relay_open=state.relay_open, alarm_active=state.pre_trip_alarm,
                alarm_count=0, cutoff_count=0, tamper_count=0, power_down_count=0,
                timestamp=self.bench.now().astimezone(UTC), tariff_version=1)
            self.record.measure("tokens the meter accepted (purchase count)",
                                data.purchase_count, equals=1)
            self.record.measure("relay open (meter status)", data.relay_open, equals=True)
        with self.record.step(TOKEN_PHASES[9]):
            result = self.billing.ingest_serial_readback(
                data, station=self.bench.config.station_id)
            attach_reconciliation(self.record, result.evidence)
            self.result.energy_consumed_kwh = Decimal(
                data.energy_wh - self._commissioning_wh) / 1000
            self.result.verdict = str(result.verdict)
            self.record.measure("energy consumed (meter registers)",
                                self.result.energy_consumed_kwh, "kWh",
                                description="judged by the reconciliation checks below")
            self.record.measure("readback source", result.evidence["source"]["kind"],
                                equals="serial", description="read over the meter's serial "
                                "port: not MAC-protected, it proves what the station read")
            record_reconciliation(self.record, result,
                                  p.credit.currency if s.money else "Wh")

