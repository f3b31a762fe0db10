"""Shared parts of the SLE 4442 tests: the real prepaid engine behind the MeterWallet
protocol, an in-process card slot, and the lab test keys."""

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from rig.card.keys import lab_test_key
from rig.card_formats.interface import MasterKeys
from rig.card_formats.sle4442.card import WriterSlot as Slot  # noqa: F401 (the tests' slot)
from rig.profile import CreditKind, load_profile
from rig.sim.prepaid import EventLog, PrepaidEngine

METER = "000000001001"


class EngineWallet:
    """rig.sim.prepaid.PrepaidEngine seen through the MeterWallet protocol (the card-boundary
    branch gives the engine these methods itself; until it lands, this forwards to them)."""

    def __init__(self, engine: PrepaidEngine) -> None:
        self.engine = engine

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)

    @property
    def last_sequence(self) -> int:
        return self.engine.last_sequence

    @property
    def purchase_count(self) -> int:
        return self.engine.purchase_count

    @property
    def tariff_version(self) -> int:
        return self.engine.tariff_version

    @property
    def credit_unit(self) -> str:
        money = self.engine.profile.credit.unit is CreditKind.MONEY
        return "money_cents" if money else "energy_wh"

    def from_units(self, units: int) -> Decimal:
        return self.engine.profile.from_credit_units(units)

    def clear_events(self) -> None:
        self.engine.events = EventLog()

    def readback_values(self, at: datetime) -> dict[str, Any]:
        e, ev = self.engine, self.engine.events
        return {"energy_wh": e.energy_wh, "remaining": e.units(e.remaining),
                "overdraft": e.units(e.overdraft), "purchase_count": e.purchase_count,
                "last_sequence": e.last_sequence,
                "cumulative_purchase": e.units(e.cumulative_purchase),
                "credit_unit": self.credit_unit, "relay_open": not e.relay_closed,
                "alarm_active": e.alarm1_active or e.alarm2_active,
                "alarm_count": ev.alarm_count, "cutoff_count": ev.cutoff_count,
                "tamper_count": ev.tamper_count, "power_down_count": ev.power_down_count,
                "timestamp": at.replace(microsecond=0), "tariff_version": e.tariff_version}


@pytest.fixture
def keys() -> MasterKeys:
    return MasterKeys(lab_test_key())


def engine_wallet(profile: str = "dlt645-1p-money") -> Any:
    """The real prepaid engine as a MeterWallet (itself, once the card boundary gave it the
    protocol's methods)."""
    engine = PrepaidEngine(load_profile(profile))
    return engine if hasattr(engine, "readback_values") else EngineWallet(engine)


@pytest.fixture
def wallet() -> Any:
    return engine_wallet()
