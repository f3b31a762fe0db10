"""Firmware of the emulated prepaid meter: protocol server and IC-card terminal.

It wraps the prepaid engine with the meter's two interfaces: the serial protocol the profile
names (a DL/T 645 register bank here, or the IEC 62056-21 data bank of meter_firmware_iec)
and the card slot (rig.sim.card_terminal, which verifies and applies a purchase and writes
the readback). The same profile that a real meter model is certified against drives it, and
it uses the same codecs as the rig, never its drivers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from rig.card.keys import MasterKey, derive_meter_key
from rig.card.session import ApduTransport
from rig.meter.dlt645 import data_ids as di
from rig.meter.dlt645.client import RelayCommand
from rig.meter.dlt645.frame import FrameParser, encode_frame
from rig.meter.dlt645.server import Dlt645Responder
from rig.profile import CreditKind, MeterProfile
from rig.sim.card_terminal import InsertionOutcome, MeterCardTerminal
from rig.sim.prepaid import PrepaidEngine
from rig.sim.world import BenchWorld

# Silence on the line after which a half-received frame is thrown away, as a real meter's UART
# driver does (DL/T 645 allows at most 500 ms between the bytes of one frame). Wall time, not
# bench time: bytes cross the pty at wall speed whatever the bench time scale, and an
# accelerated 500 ms would be microseconds. 100 ms is many character times at any DL/T 645 rate
# (4.6 ms per character at 2400 Bd) yet shorter than any client's reply timeout, so a retry
# always meets a clean parser even after line noise corrupted a length byte.
FRAME_GAP_S = 0.1


class EmulatedMeter:
    """One emulated prepaid meter living in a bench world."""

    def __init__(self, world: BenchWorld, master_key: MasterKey, *,
                 wire_pacing: bool = False, frame_gap_s: float = FRAME_GAP_S,
                 wall_clock: Callable[[], float] = time.monotonic) -> None:
        self.world = world
        self.wire_pacing = wire_pacing
        self.frame_gap_s = frame_gap_s
        self._wall_clock = wall_clock
        self._last_byte_at: float | None = None
        self.partial_frames_discarded = 0  # for diagnostics and the fault tests
        self.profile: MeterProfile = world.profile
        self.meter_no = self.profile.protocol.address
        self._key = derive_meter_key(master_key, self.meter_no, self.profile.card.key_revision)
        self.terminal = MeterCardTerminal(self.engine, self.meter_no, self._key)
        self._serial_lock = threading.Lock()
        self._parser = FrameParser()
        self._responder = Dlt645Responder(self.meter_no, _Registers(self)) if (
            self.profile.protocol.kind == "dlt645-2007") else None
        self._iec = None
        if self.profile.protocol.kind == "iec62056-21":
            from rig.sim.meter_firmware_iec import iec_responder

            self._iec = iec_responder(self)

    @property
    def engine(self) -> PrepaidEngine:
        return self.world.engine

    # -- serial side -----------------------------------------------------------------
    def char_time_s(self) -> float:
        """Wire time of one character at the current rate: start + data + parity + stop."""
        s = self.profile.protocol.serial
        rate = self._iec.baudrate if self._iec is not None else s.baudrate
        return (1 + s.bytesize + (s.parity != "N") + s.stopbits) / rate

    def on_serial_bytes(self, data: bytes) -> bytes:
        """Feed bytes from the serial line; return the encoded replies.

        With `wire_pacing` the reply is held back for as long as its characters take on a
        real line at the profile's rate (the IEC rate after a baud-rate switch), so client
        timeouts meet the delays real hardware has.
        """
        with self._serial_lock:
            reply = self._serve(data)
            if reply and self.wire_pacing:
                time.sleep(len(reply) * self.char_time_s())
            return reply

    def _serve(self, data: bytes) -> bytes:
        if self._iec is not None:
            with self.world.lock:
                self.world.advance()
                return self._iec.serve_stream(data)
        assert self._responder is not None
        now = self._wall_clock()
        if (self._last_byte_at is not None and now - self._last_byte_at > self.frame_gap_s
                and self._parser.pending):
            self._parser.reset()  # a gap ends any frame: never wait for bytes that are not coming
            self.partial_frames_discarded += 1
        self._last_byte_at = now
        out = bytearray()
        for frame in self._parser.feed(data):
            with self.world.lock:
                self.world.advance()
                reply = self._responder.respond(frame)
            if reply is not None:
                out += encode_frame(reply)
        self._parser.faults.clear()  # a real meter ignores frames it cannot check
        return bytes(out)

    # -- card slot -------------------------------------------------------------------
    def insert_card(self, transport: ApduTransport) -> InsertionOutcome:
        """A card was inserted: run the card terminal with the world held still.

        An accepted card of this meter also clears an alarm-2 relay trip (the customer has
        seen the warning); a refused card changes nothing.
        """
        with self.world.lock:
            self.world.advance()
            now = self.world.clock.now()
            outcome = self.terminal.insert(transport, now)
            if outcome.accepted:
                self.engine.card_inserted(now)
            return outcome

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
    """The DL/T 645 register bank of an emulated meter."""

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
            di.PHASE_A_VOLTAGE: m.world.voltage.quantize(Decimal("0.1"), rounding=ROUND_DOWN),
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

    def _check_password(self, password: bytes) -> None:
        settings = self._m.profile.protocol.dlt645
        if settings is None or password != bytes.fromhex(settings.password):
            raise PermissionError("password does not match")

    def write(self, data_id: int, data: bytes, password: bytes, operator: bytes) -> None:
        self._check_password(password)
        raise PermissionError("parameter writes over the serial line need a parameter card")

    def relay_control(self, command: int, password: bytes, operator: bytes) -> None:
        """0x1C with the profile's password, if the profile enables remote relay control."""
        settings = self._m.profile.protocol.dlt645
        if settings is None or not settings.remote_relay_control:
            raise PermissionError("remote relay control is not enabled on this meter")
        self._check_password(password)
        e = self._m.engine
        now = self._m.world.clock.now()
        if command == RelayCommand.TRIP:
            e.remote_relay(False, now)
        elif command in (RelayCommand.CLOSE_ALLOWED, RelayCommand.CLOSE_DIRECT):
            e.remote_relay(True, now)  # credit rules may still keep it open
        else:
            raise ValueError(f"relay command {command:02X} not supported")

    def set_time(self, dt: datetime) -> None:
        """Broadcast time sync: the emulated meter follows the bench clock; ignored."""
