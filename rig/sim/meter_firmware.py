"""Firmware of the emulated prepaid meter: DL/T 645 register bank and IC-card terminal.

It wraps the prepaid engine with the meter's two interfaces: the serial protocol (a register
bank the DL/T 645 responder reads) and the card slot (rig.sim.card_terminal, which verifies and
applies a purchase and writes the readback). The same profile that a real meter model is
certified against drives it, and it uses the same codecs as the rig, never its drivers.
"""

from __future__ import annotations

import threading
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from rig.card.keys import MasterKey, derive_meter_key
from rig.card.session import ApduTransport
from rig.meter.dlt645 import data_ids as di
from rig.meter.dlt645.frame import FrameParser, encode_frame
from rig.meter.dlt645.server import Dlt645Responder
from rig.profile import CreditKind, MeterProfile
from rig.sim.card_terminal import InsertionOutcome, MeterCardTerminal
from rig.sim.prepaid import PrepaidEngine
from rig.sim.world import BenchWorld


class EmulatedMeter:
    """One emulated prepaid meter living in a bench world."""

    def __init__(self, world: BenchWorld, master_key: MasterKey) -> None:
        self.world = world
        self.profile: MeterProfile = world.profile
        self.meter_no = self.profile.protocol.address
        self._key = derive_meter_key(master_key, self.meter_no, self.profile.card.key_revision)
        self._parser = FrameParser()
        self._responder = Dlt645Responder(self.meter_no, _Registers(self))
        self.terminal = MeterCardTerminal(self.engine, self.meter_no, self._key)
        self._serial_lock = threading.Lock()

    @property
    def engine(self) -> PrepaidEngine:
        return self.world.engine

    # -- serial side -----------------------------------------------------------------
    def on_serial_bytes(self, data: bytes) -> bytes:
        """Feed bytes from the serial line; return the encoded replies."""
        with self._serial_lock:
            frames = self._parser.feed(data)
            out = bytearray()
            for frame in frames:
                with self.world.lock:
                    self.world.advance()
                    reply = self._responder.respond(frame)
                if reply is not None:
                    out += encode_frame(reply)
            return bytes(out)

    # -- card slot -------------------------------------------------------------------
    def insert_card(self, transport: ApduTransport) -> InsertionOutcome:
        """A card was inserted: run the card terminal with the world held still."""
        with self.world.lock:
            self.world.advance()
            return self.terminal.insert(transport, self.world.clock.now())

    def status_word_3(self) -> int:
        e = self.engine
        money = self.profile.credit.unit is CreditKind.MONEY
        word = di.SW3_METER_TYPE_MONEY_PREPAID if money else di.SW3_METER_TYPE_ENERGY_PREPAID
        if not e.relay_closed:
            word |= di.SW3_RELAY_OPEN | di.SW3_RELAY_COMMAND_OPEN
        if e.alarm2_active:
            word |= di.SW3_PRE_TRIP_ALARM
        return word


def _two_dp(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_DOWN)


class _Registers:
    """The DL/T 645 register bank of an emulated meter (read-only in the skeleton)."""

    def __init__(self, meter: EmulatedMeter) -> None:
        self._m = meter

    def _values(self) -> dict[int, object]:
        m = self._m
        e = m.engine
        t = m.profile.thresholds
        now = m.world.clock.now()
        _, amps, watts = m.world.load.measure() if e.relay_closed else (Decimal(0),) * 3
        values: dict[int, object] = {
            di.COMBINED_ACTIVE_TOTAL: _two_dp(e.energy_kwh),
            di.FORWARD_ACTIVE_TOTAL: _two_dp(e.energy_kwh),
            di.REVERSE_ACTIVE_TOTAL: Decimal(0),
            di.PHASE_A_VOLTAGE: m.world.voltage,
            di.PHASE_A_CURRENT: amps.quantize(Decimal("0.001"), rounding=ROUND_DOWN),
            di.TOTAL_ACTIVE_POWER: (watts / 1000).quantize(Decimal("0.0001"),
                                                           rounding=ROUND_DOWN),
            di.DATE_WEEK: now,
            di.TIME: now,
            di.COMM_ADDRESS: m.meter_no,
            di.METER_NUMBER: m.meter_no,
            di.STATUS_WORD_3: m.status_word_3(),
        }
        if e.events.last_cutoff is not None:
            values[di.LAST_TRIP_RECORD] = e.events.last_cutoff
        if m.profile.credit.unit is CreditKind.MONEY:
            values |= {
                di.REMAINING_AMOUNT: _two_dp(e.remaining),
                di.OVERDRAFT_AMOUNT: _two_dp(e.overdraft),
                di.LAST_PURCHASE_COUNT: e.purchase_count,
                di.LAST_CUMULATIVE_PURCHASE_AMOUNT: _two_dp(e.cumulative_purchase),
                di.ALARM_AMOUNT_1: t.alarm1,
                di.ALARM_AMOUNT_2: t.alarm2,
                di.OVERDRAFT_AMOUNT_LIMIT: t.overdraft_limit,
                di.HOARDING_AMOUNT_LIMIT: t.hoarding_limit,
                di.CLOSE_ALLOWED_AMOUNT_LIMIT: t.close_allowed,
            }
        else:
            values |= {
                di.REMAINING_ENERGY: _two_dp(e.remaining),
                di.OVERDRAFT_ENERGY: _two_dp(e.overdraft),
                di.LAST_PURCHASE_COUNT_ENERGY: e.purchase_count,
                di.LAST_CUMULATIVE_PURCHASED_ENERGY: _two_dp(e.cumulative_purchase),
                di.ALARM_ENERGY_1: t.alarm1,
                di.ALARM_ENERGY_2: t.alarm2,
                di.OVERDRAFT_ENERGY_LIMIT: t.overdraft_limit,
                di.HOARDING_ENERGY_LIMIT: t.hoarding_limit,
            }
        return values

    def read(self, data_id: int) -> bytes:
        """Encode one register; an identifier this meter lacks raises KeyError (no data)."""
        values = self._values()
        if data_id not in values:
            raise KeyError(data_id)
        return di.encode_value(data_id, values[data_id])

    def write(self, data_id: int, data: bytes, password: bytes, operator: bytes) -> None:
        raise PermissionError("parameter writes over the serial line need a parameter card")

    def relay_control(self, command: int, password: bytes, operator: bytes) -> None:
        raise PermissionError("remote relay control is not enabled on this meter")

    def set_time(self, dt: datetime) -> None:
        """Broadcast time sync: the emulated meter follows the bench clock; ignored."""

