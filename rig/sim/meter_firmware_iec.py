"""The emulated meter's IEC 62056-21 side: its readout and programming-mode data bank.

Identifiers come from the profile's register map (OBIS codes, reduced form); values are
formatted as a real mode C meter prints them: fixed digits, `*unit`, dates YYMMDDhhmmss.
The status word (4 hex digits, bits below) is this reference model's own, as every maker's is.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING

from rig.meter.iec62056.frames import DataSet
from rig.meter.iec62056.server import Iec62056Responder
from rig.profile import CreditKind
from rig.sim.prepaid import RelayReason

if TYPE_CHECKING:
    from rig.sim.meter_firmware import EmulatedMeter

# Status word bits (C.5.0 by default).
ST_RELAY_OPEN = 1 << 0
ST_ALARM1 = 1 << 1
ST_ALARM2 = 1 << 2
ST_EMERGENCY = 1 << 3
ST_FRIENDLY = 1 << 4
ST_POWER_TRIP = 1 << 5
ST_ALARM2_TRIP = 1 << 6
ST_REMOTE_TRIP = 1 << 7
ST_COVER_OPEN = 1 << 8
RELAY_CONTROL = "C.53.1"  # W1 0 = trip, 1 = close (after the P1 password)
DATE = "0.9.2"
POWER_FAILURES = "C.7.0"  # number of power failures (OBIS 0.0.96.7.0)
COVER_OPENINGS = "C.54.1"  # manufacturer specific: terminal cover openings
LAST_COVER_OPEN = "C.54.2"  # YYMMDDhhmmss, empty if never
LAST_POWER_DOWN = "C.54.3"  # YYMMDDhhmmss, empty if never
CARD_REFUSALS = "C.55.1"  # manufacturer specific: card insertions refused
LAST_CARD_REFUSAL = "C.55.2"  # YYMMDDhhmmss, empty if never


def _fixed(value: Decimal, decimals: int, width: int) -> str:
    q = value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_DOWN)
    return format(q, f"0{width}.{decimals}f")


def status_word(meter: EmulatedMeter) -> int:
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


class IecDataBank:
    """Readout and R1/W1 access to an emulated meter's registers."""

    def __init__(self, meter: EmulatedMeter) -> None:
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


def iec_responder(meter: EmulatedMeter) -> Iec62056Responder:
    """The optical port of `meter`, per its profile. It serves a pty, which carries no parity:
    each session is answered in the form its sign-on came in (bare 7-bit characters from a
    standard 7E1 client, or 7E1 characters with the parity in bit 7 from rig's client)."""
    p = meter.profile.protocol
    assert p.iec62056 is not None
    return Iec62056Responder(
        meter.meter_no, IecDataBank(meter), manufacturer=p.iec62056.manufacturer,
        ident=p.iec62056.identification, password=p.iec62056.password,
        initial_baudrate=p.serial.baudrate, max_baudrate=p.iec62056.max_baudrate,
        software_parity=None)
