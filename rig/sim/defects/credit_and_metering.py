"""Defects in what the registers hold: the credit a purchase adds, the purchase count and
cumulative register, the metrology's rate, the hoarding limit, tariffs and the levels a
parameter card set."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from rig.profile import MeterProfile, Thresholds
from rig.sim.defects.applies_to import money
from rig.sim.defects.entry import Defect
from rig.sim.defects.parts import Install, engine
from rig.sim.defects.requirements import BUY, CYCLES, HOARDING, PARAMETERS, TARIFF
from rig.sim.prepaid import PrepaidEngine

if TYPE_CHECKING:
    from rig.sim.meter_firmware import EmulatedMeter


class _CreditOneUnitMore(PrepaidEngine):
    def credit_from_units(self, units: int) -> Decimal:
        return super().credit_from_units(units + 1)


class _PurchaseCountStuck(PrepaidEngine):
    def apply_purchase(self, sequence: int, units: int, at: datetime) -> None:
        count = self.purchase_count
        super().apply_purchase(sequence, units, at)
        self.purchase_count = max(count, 1)


class _CumulativeNotKept(PrepaidEngine):
    def apply_purchase(self, sequence: int, units: int, at: datetime) -> None:
        super().apply_purchase(sequence, units, at)
        self.cumulative_purchase = self.credit_from_units(units)


class _HoardingIgnored(PrepaidEngine):
    def would_hoard(self, units: int) -> bool:
        return False


class _HoardingBalanceOnly(PrepaidEngine):
    def would_hoard(self, units: int) -> bool:
        return self.balance > self.acting_levels().hoarding_limit


class _FactoryLevels(PrepaidEngine):
    """The registers show what a parameter card set; the logic keeps the factory levels."""

    def acting_levels(self) -> Thresholds:
        return self._factory.thresholds

    @property
    def _factory(self) -> MeterProfile:
        return getattr(self, "_factory_profile", self.profile)


def _factory_levels(meter: EmulatedMeter) -> None:
    meter.engine.__class__ = _FactoryLevels
    object.__setattr__(meter.engine, "_factory_profile", meter.engine.profile)


class _MeteringError(PrepaidEngine):
    """Energy integrated at the wrong rate (a meter constant error)."""

    rate: Decimal = Decimal(1)

    def advance(self, seconds: float, power_w: Decimal, start: datetime) -> None:
        super().advance(seconds, power_w * self.rate, start)


def _metering(sign: int) -> Install:
    def install(meter: EmulatedMeter) -> None:
        error = _class_error(meter.profile) * 2 * sign
        meter.engine.__class__ = _MeteringError
        object.__setattr__(meter.engine, "rate", 1 + error)
    return install


def _class_error(p: MeterProfile) -> Decimal:
    digits = "".join(c for c in p.metering.accuracy_class if c.isdigit() or c == ".")
    return Decimal(digits or "1") / 100


class _TariffIgnored(PrepaidEngine):
    def apply_tariff(self, version: int, price_per_kwh: Decimal) -> bool:
        return False


class _TariffPriceKept(PrepaidEngine):
    def apply_tariff(self, version: int, price_per_kwh: Decimal) -> bool:
        return super().apply_tariff(version, self.price_per_kwh)


DEFECTS = (
    Defect("credit-one-unit-more", BUY, "each purchase credited one card unit more",
           engine(_CreditOneUnitMore)),
    Defect("cumulative-purchase-not-kept", CYCLES, "cumulative purchase register holds only the "
           "last purchase", engine(_CumulativeNotKept)),
    Defect("purchase-count-stuck", CYCLES, "purchase count stops at 1",
           engine(_PurchaseCountStuck)),
    Defect("energy-fast", CYCLES, "energy integrated fast by twice the accuracy class",
           _metering(+1)),
    Defect("energy-slow", CYCLES, "energy integrated slow by twice the accuracy class",
           _metering(-1)),
    Defect("hoarding-not-enforced", HOARDING, "purchases beyond the hoarding limit accepted",
           engine(_HoardingIgnored)),
    Defect("hoarding-checks-balance-only", HOARDING, "hoarding limit compared with the balance "
           "before the purchase", engine(_HoardingBalanceOnly)),
    Defect("parameter-levels-not-acted", PARAMETERS, "parameter levels shown in the registers "
           "but the alarms act at the factory levels", _factory_levels),
    Defect("tariff-not-applied", TARIFF, "a new tariff version on the card is ignored",
           engine(_TariffIgnored)),
    Defect("tariff-price-kept", TARIFF, "a new tariff version is accepted but the old price "
           "still charged", engine(_TariffPriceKept), money),
)
