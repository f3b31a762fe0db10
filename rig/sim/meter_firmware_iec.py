"""The emulated meter's IEC 62056-21 side: its readout and programming-mode data bank.

Identifiers come from the profile's register map (OBIS codes, reduced form); values are
formatted as a real mode C meter prints them: fixed digits, `*unit`, dates YYMMDDhhmmss.
The status word (4 hex digits, bits below) is this reference model's own, as every maker's is.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import Protocol

from rig.meter.dlt645.data_types import AbnormalCardRecord
from rig.meter.iec62056.frames import DataSet
from rig.meter.iec62056.server import Iec62056Responder
from rig.meter.iec62056.status import (
    ST_ALARM1,
    ST_ALARM2,
    ST_ALARM2_TRIP,
    ST_COVER_OPEN,
    ST_EMERGENCY,
    ST_FRIENDLY,
    ST_POWER_TRIP,
    ST_RELAY_OPEN,
    ST_REMOTE_TRIP,
)
from rig.profile import CreditKind, MeterProfile
from rig.sim.prepaid import PrepaidEngine, RelayReason
from rig.sim.world import BenchWorld


class _LogView(Protocol):
    """The firmware's non-volatile records this data bank prints."""

    @property
    def cover_open_since(self) -> datetime | None: ...
    @property
    def last_cover_open(self) -> datetime | None: ...
    @property
    def last_power_down(self) -> datetime | None: ...
    @property
    def card_refusals(self) -> int: ...
    @property
    def last_card_refusal(self) -> datetime | None: ...
    @property
    def abnormal_cards(self) -> tuple[AbnormalCardRecord, ...]: ...


class MeterView(Protocol):
    """What the IEC side reads of the emulated meter (rig.sim.meter_firmware.EmulatedMeter),
    named here so that this module does not import the firmware that imports it."""

    meter_no: str
    profile: MeterProfile
    world: BenchWorld

    @property
    def log(self) -> _LogView: ...
    @property
    def engine(self) -> PrepaidEngine: ...
    def meter_now(self) -> datetime: ...
    def on_meter_clock(self, at: datetime) -> datetime: ...


RELAY_CONTROL = "C.53.1"  # W1 0 = trip, 1 = close (after the P1 password)
DATE = "0.9.2"
POWER_FAILURES = "C.7.0"  # number of power failures (OBIS 0.0.96.7.0)
COVER_OPENINGS = "C.54.1"  # manufacturer specific: terminal cover openings
LAST_COVER_OPEN = "C.54.2"  # YYMMDDhhmmss, empty if never
LAST_POWER_DOWN = "C.54.3"  # YYMMDDhhmmss, empty if never
CARD_REFUSALS = "C.55.1"  # manufacturer specific: card insertions refused
LAST_CARD_REFUSAL = "C.55.2"  # YYMMDDhhmmss, empty if never
# The last refusal's card error code (rig.meter.card_errors, two digits; empty if never): what
# the meter's display shows for a refused card, so a lab can read why over the optical port.
LAST_CARD_REFUSAL_REASON = "C.55.3"


def _fixed(value: Decimal, decimals: int, width: int) -> str:
    q = value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_DOWN)
    return format(q, f"0{width}.{decimals}f")


def status_word(meter: MeterView) -> int:
    e = meter.engine
    now = meter.world.clock.now()
    word = 0
    if not e.relay_closed:
        word |= ST_RELAY_OPEN
        word |= {RelayReason.POWER_LIMIT: ST_POWER_TRIP, RelayReason.ALARM2_TRIP: ST_ALARM2_TRIP,
                 RelayReason.REMOTE: ST_REMOTE_TRIP}.get(e.relay_reason, 0)
    if e.alarm1_active:
        word |= ST_ALARM1
    if e.alarm2_active:
        word |= ST_ALARM2
    if e.emergency_active:
        word |= ST_EMERGENCY
    if e.in_friendly_period(now):
        word |= ST_FRIENDLY
    if meter.log.cover_open_since is not None:
        word |= ST_COVER_OPEN
    return word


def _last_reason(records: tuple[AbnormalCardRecord, ...]) -> str:
    return f"{records[0].error:02d}" if records else ""


class IecDataBank:
    """Readout and R1/W1 access to an emulated meter's registers."""

    def __init__(self, meter: MeterView) -> None:
        self._m = meter

    def readout(self) -> list[DataSet]:
        m = self._m
        e = m.engine
        reg = m.profile.register_map
        money = m.profile.credit.unit is CreditKind.MONEY
        unit = m.profile.credit.currency if money else "kWh"
        dec = 2 if money else 3
        now = m.meter_now()
        _, amps, watts = m.world.load.measure() if e.relay_closed else (Decimal(0),) * 3

        def stamp(at: datetime | None) -> str:
            return m.on_meter_clock(at).strftime("%y%m%d%H%M%S") if at else ""
        return [
            DataSet(reg["address"], m.meter_no),
            DataSet(reg["energy_total"], _fixed(e.energy_kwh, 3, 10), "kWh"),
            DataSet(reg["remaining_credit"], _fixed(e.remaining, dec, 10), unit),
            DataSet(reg["overdraft"], _fixed(e.overdraft, dec, 10), unit),
            DataSet(reg["emergency_credit"], _fixed(e.emergency_outstanding, dec, 10), unit),
            DataSet(reg["purchase_count"], f"{e.purchase_count:04d}"),
            DataSet(reg["cumulative_purchase"], _fixed(e.cumulative_purchase, dec, 10), unit),
            DataSet(reg["status"], f"{status_word(m):04X}"),
            DataSet(reg["last_cutoff"], stamp(e.events.last_cutoff)),
            DataSet(reg["voltage"], _fixed(m.world.voltage, 1, 5), "V"),
            DataSet(reg["current"], _fixed(amps, 3, 7), "A"),
            DataSet(reg["power"], _fixed(watts / 1000, 4, 7), "kW"),
            DataSet(reg["clock"], now.strftime("%H%M%S")),
            DataSet(DATE, now.strftime("%y%m%d")),
            DataSet(RELAY_CONTROL, "1" if e.relay_closed else "0"),
            DataSet(POWER_FAILURES, f"{e.events.power_down_count:04d}"),
            DataSet(COVER_OPENINGS, f"{e.events.tamper_count:04d}"),
            DataSet(LAST_COVER_OPEN, stamp(m.log.last_cover_open)),
            DataSet(LAST_POWER_DOWN, stamp(m.log.last_power_down)),
            DataSet(CARD_REFUSALS, f"{m.log.card_refusals:04d}"),
            DataSet(LAST_CARD_REFUSAL, stamp(m.log.last_card_refusal)),
            DataSet(LAST_CARD_REFUSAL_REASON, _last_reason(m.log.abnormal_cards)),
        ]

    def read(self, address: str) -> DataSet:
        for ds in self.readout():
            if ds.address == address:
                return ds
        raise KeyError(address)

    def write(self, address: str, value: str) -> None:
        if address != RELAY_CONTROL:
            self.read(address)  # KeyError if unknown
            raise PermissionError(f"{address} is read only")
        if value not in ("0", "1"):
            raise ValueError("relay control takes 0 (trip) or 1 (close)")
        self._m.engine.remote_relay(value == "1", self._m.world.clock.now())


def iec_responder(meter: MeterView) -> Iec62056Responder:
    """The optical port of `meter`, per its profile's protocol entry."""
    p = meter.profile.protocol
    responder: Iec62056Responder = p.spec.responder(meter.meter_no, IecDataBank(meter),
                                                    p.serial, p.iec62056)
    return responder
