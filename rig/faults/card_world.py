"""In-process card world for card-fault campaigns and terminal/station tests: a card
format's real virtual card (RIGPP's CardApplication by default), the real vending station and
the format's real meter card reader around a PrepaidEngine from a profile of that format (the
default profile for RIGPP), all found through the card-format registry.

Only the billing centre is replaced, by `Ledger`, which records what the station reports
(`mark_written`); the billing centre has its own tests. Lives in the package (not tests/)
because bench/faults.py runs the same card-fault cases as the test suite.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from rig.billing.readback_keys import ReadbackKeyService
from rig.billing.types import CreditUnit as BillingCreditUnit
from rig.billing.types import VendResult, VendStatus
from rig.card.keys import (
    MasterKey,
    derive_meter_key,
    lab_readback_test_key,
    lab_test_key,
)
from rig.card.session import ApduTransport, DirectTransport
from rig.card_formats.interface import MasterKeys, MeterCardReader, meter_slot
from rig.card_formats.registry import DEFAULT, card_format
from rig.errors import ConfigError
from rig.profile import MeterProfile, available_profiles, load_profile
from rig.sim.prepaid import PrepaidEngine
from rig.station.vending_station import VendingStation

MASTER = lab_test_key()
READBACK_MASTER = lab_readback_test_key()  # the centre's key service holds it
OTHER_MASTER = MasterKey(bytes(range(16)))
NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
SERIAL = "C0FFEE0000000001"


class Ledger:
    """Stands in for the billing centre: remembers which vends the station wrote."""

    def __init__(self) -> None:
        self.written: list[int] = []

    def mark_written(self, vend_id: int) -> None:
        self.written.append(vend_id)


@dataclasses.dataclass
class World:
    engine: PrepaidEngine
    terminal: MeterCardReader
    station: VendingStation
    card: Any  # the format's VirtualCardApp (RIGPP's CardApplication: EF-level campaigns)
    ledger: Ledger
    meter_no: str

    def slot(self) -> DirectTransport:
        """A fresh insertion (power-on reset: nothing selected, no security state)."""
        self.card.reset()
        return DirectTransport(self.card)

    def meter_slot(self) -> ApduTransport:
        """A fresh insertion into the meter: the card's own meter slot if it has one (a memory
        card's chip bus), else the same commands a writer sends."""
        self.card.reset()
        return meter_slot(self.card) or DirectTransport(self.card, "meter")

    def vend(self, sequence: int, credit: int, tariff_version: int = 1,
             price: Decimal = Decimal("0.5283")) -> VendResult:
        return VendResult(
            vend_id=sequence, request_id=f"r{sequence}", meter_no=self.meter_no,
            card_serial=SERIAL, sequence=sequence, credit=credit,
            credit_unit=BillingCreditUnit.MONEY_CENTS, amount=Decimal(credit) / 100,
            tariff_code="T", tariff_version=tariff_version, price_per_kwh=price,
            key_revision=self.terminal.key_revision, receipt=(), status=VendStatus.CREATED,
            station="s1", operator="op", created_at=NOW)

    def meter_key(self) -> bytes:
        return derive_meter_key(MASTER, self.meter_no, self.terminal.key_revision)

    def readback_mac_key(self) -> bytes:
        """The key the meter MACs readbacks with; the vending station cannot derive it."""
        return ReadbackKeyService(READBACK_MASTER).mac_key(self.meter_no,
                                                           self.terminal.key_revision)


def profile_of_format(name: str) -> MeterProfile:
    """The default profile if its meter reads card format ``name``, else the first shipped
    (or the lab's) profile whose meter does."""
    default = load_profile()
    if default.card.format == name:
        return default
    for candidate in available_profiles():
        profile = load_profile(candidate)
        if profile.card.format == name:
            return profile
    raise ConfigError(f"no meter profile reads card format {name!r}")


def make_world(*, personalise: bool = True, master: MasterKey = MASTER,
               card_format_name: str = DEFAULT) -> World:
    """The world; ``master`` is the key the meter was 'manufactured' with (the station
    always holds MASTER: another one makes a meter of another issuer). The card, the
    station's writer and the meter follow a profile of ``card_format_name`` (its options:
    an SLE 4442 profile's reader dialect)."""
    fmt = card_format(card_format_name)
    profile = profile_of_format(fmt.name)
    engine = PrepaidEngine(profile=profile)
    meter_no = profile.protocol.address
    terminal = fmt.meter_reader(engine, meter_no, MasterKeys(master, READBACK_MASTER),
                                key_revision=profile.card.key_revision)
    options = dict(profile.card.options)
    world = World(engine, terminal, VendingStation(Ledger(), MASTER, fmt=fmt, options=options),
                  fmt.blank_card(options), Ledger(), meter_no)
    world.station.billing = world.ledger
    if personalise:
        world.station.personalise(world.slot(), card_serial=SERIAL, meter_no=meter_no,
                                  key_revision=profile.card.key_revision)
    return world


def registers(engine: PrepaidEngine) -> tuple[object, ...]:
    """Every register of the engine a card session could touch."""
    return (engine.energy_wh, engine.credit, engine.price_per_kwh, engine.tariff_version,
            engine.purchase_count, engine.last_sequence, engine.cumulative_purchase,
            engine.relay_closed, engine.relay_reason, engine.alarm1_active,
            engine.alarm2_active, dataclasses.replace(engine.events))
