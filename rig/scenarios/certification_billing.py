"""Certification scenarios of the billing centre side: a tariff change at its date."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from rig.errors import RigError
from rig.scenarios import expect
from rig.scenarios.cert_base import (
    PRICE,
    clear_alarm2_trip,
    commission,
    consumption_power,
    outside_friendly_periods,
)
from rig.scenarios.steps import BenchSteps

NEW_PRICE = Decimal("0.7925")
EFFECTIVE_AFTER = timedelta(hours=6)  # bench time between announcing and applying a change


def tariff_change_at_effective_date(s: BenchSteps) -> None:
    """A new tariff version applies from its effective date: a vend before it sells at the
    old price, one after it at the new price, and the meter charges what the card brought.

    The announcement and the vend meant to precede the change run with the bench clock at
    real time (`Bench.clock_slowed`): six bench hours are then six real hours, so that vend
    lands before the change however loaded the machine and however fast the bench runs.

    Certifies IEC 62055-31:2022 3.6, Annex A; Q/GDW 1354-2013 clause 4
    (rig.scenarios.cert_citations).
    """
    p = s.bench.profile
    amount = Decimal("20.00")
    commission(s)
    with s.bench.clock_slowed():
        effective = s.bench.now() + EFFECTIVE_AFTER
        with s.record.step("announce a tariff change"):
            new = s.billing.create_tariff(s.tariff_code, NEW_PRICE, effective)
            s.record.measure("new tariff version", new.version, equals=2)
            s.record.measure("effective from (bench time)", effective.isoformat(timespec="seconds"))
        with s.record.step("vend before the effective date"):
            vend, delivery = s.buy(amount)
            if vend.created_at >= effective:
                raise RigError(f"the vend meant to precede {effective} was made at "
                               f"{vend.created_at}")
            s.record.measure("vend price", vend.price_per_kwh, f"{p.credit.currency}/kWh",
                             equals=PRICE)
            s.record.measure("vend tariff version", vend.tariff_version, equals=1)
            _credit_at(s, vend.amount, PRICE, s.credit_of(vend))
            s.record.measure("card accepted", delivery.accepted, equals=True)
            s.settle()
    with s.record.step("vend after the effective date"):
        s.wait_until(effective)
        vend, delivery = s.buy(amount)
        s.record.measure("vend price", vend.price_per_kwh, f"{p.credit.currency}/kWh",
                         equals=NEW_PRICE)
        s.record.measure("vend tariff version", vend.tariff_version, equals=2)
        _credit_at(s, vend.amount, NEW_PRICE, s.credit_of(vend))
        s.record.measure("meter display", delivery.meter_message)
        s.record.measure("meter applied tariff 2", "tariff 2 applied" in delivery.meter_message,
                         equals=True)
        uploaded = s.settle()
        s.record.measure("readback tariff version", uploaded.readback.fields["tariff_version"],
                         equals=2)
    if expect.money(p):
        _meter_charges(s, NEW_PRICE)


def _credit_at(s: BenchSteps, amount: Decimal, price: Decimal, credit: Decimal) -> None:
    """Money meters get the amount as credit; energy meters its kWh at `price`, to the Wh."""
    if expect.money(s.bench.profile):
        s.record.measure("credit sold", credit, s.unit, equals=amount)
        return
    kwh = (amount / price).quantize(Decimal("0.000001"))
    s.record.measure("credit sold", credit, "kWh", low=kwh - Decimal("0.001"), high=kwh,
                     description=f"{amount} at {price}/kWh")


def _meter_charges(s: BenchSteps, price: Decimal) -> None:
    """A money meter charges consumption at the price its card brought."""
    power = consumption_power(s)
    spend = Decimal("5.00")
    clear_alarm2_trip(s)
    outside_friendly_periods(s, expect.hours_to_spend(s.bench.profile, spend, price, power))
    with s.record.step("meter charges the new price"):
        energy, remaining = s.meter.energy_kwh(), s.meter.remaining()
        s.load_on(power)
        s.watch(lambda m: m.remaining <= remaining - spend, "consumption at the new price")
        s.load_off()
        used = s.meter.energy_kwh() - energy
        charged = remaining - s.meter.remaining()
        # registers show 0.01 kWh and 0.01 of money: allow one digit of each
        slack = price * Decimal("0.01") + Decimal("0.01")
        s.record.measure("credit charged for the energy used", charged, s.unit,
                         low=used * price - slack, high=used * price + slack,
                         description=f"{used} kWh at {price}; the old price would charge "
                                     f"{(used * PRICE).quantize(Decimal('0.01'))}")
