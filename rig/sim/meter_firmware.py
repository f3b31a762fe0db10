"""Firmware of the emulated prepaid meter: protocol server and IC-card terminal.

It wraps the prepaid engine with the meter's two interfaces: the serial protocol the profile
names (the DL/T 645 register bank of meter_registers, or the IEC 62056-21 data bank of
meter_firmware_iec) and the card slot (meter_card_slot: the card reader of the profile's card
format, found through rig.card_formats.registry, verifies and applies a purchase and writes
the readback). Its supply, terminal cover and clock live here; what survives a power cycle is
meter_nvm's image. The same profile that a real meter model is certified against drives it,
and it uses the same codecs as the rig, never its drivers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from rig.card.keys import MasterKey
from rig.card.session import ApduTransport
from rig.card_formats.interface import InsertionOutcome, MasterKeys, MeterCardReader
from rig.card_formats.registry import card_format
from rig.esam.esam import Esam, commissioned
from rig.esam.keys import LabKeyService
from rig.meter.dlt645 import data_ids as di
from rig.meter.dlt645.frame import Frame, FrameParser, encode_frame
from rig.meter.protocols import Wire
from rig.profile import CreditKind, MeterProfile
from rig.sim import nvm
from rig.sim.meter_card_slot import PowerFailure, card_session
from rig.sim.meter_firmware_iec import iec_responder
from rig.sim.meter_nvm import MeterLog, meter_image, restore_meter_image
from rig.sim.meter_registers import MeterRegisters
from rig.sim.meter_security import MeterSecurity
from rig.sim.prepaid import PrepaidEngine
from rig.sim.sts_keypad import StsKeypad
from rig.sim.supply_cut import CutMoment
from rig.sim.world import BenchWorld

# Re-exported: callers know them as the firmware's (tests, the card replayer, the defects).
__all__ = ["BROADCAST_TIME_LIMIT", "FRAME_GAP_S", "EmulatedMeter", "MeterLog", "PowerFailure",
           "commissioned_esam"]

# Silence on the line after which a half-received frame is thrown away, as a real meter's UART
# driver does (DL/T 645 allows at most 500 ms between the bytes of one frame). Wall time, not
# bench time: bytes cross the pty at wall speed whatever the bench time scale, and an
# accelerated 500 ms would be microseconds. 100 ms is many character times at any DL/T 645 rate
# (4.6 ms per character at 2400 Bd) yet shorter than any client's reply timeout, so a retry
# always meets a clean parser even after line noise corrupted a length byte.
FRAME_GAP_S = 0.1


BROADCAST_TIME_LIMIT = timedelta(minutes=5)  # a broadcast may move the clock this far at most


def commissioned_esam(profile: MeterProfile, master_key: MasterKey) -> Esam | None:
    """The ESAM of a profile with ``[esam]``, in its key state (private keys from the lab's
    key service, as the utility's encryption machine would give them); None without one."""
    section = profile.esam
    if section is None:
        return None
    return commissioned(profile.protocol.address, bytes.fromhex(section.serial),
                        section.key_state, LabKeyService.from_master(master_key),
                        identity_minutes=section.identity_minutes)


class EmulatedMeter:
    """One emulated prepaid meter living in a bench world."""

    def __init__(self, world: BenchWorld, master_key: MasterKey, *,
                 readback_master: MasterKey | None = None,
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
        # 'Manufactured' with its keys: the meter key, and its own readback key from the
        # centre's readback key service (the format's default: the lab test readback key);
        # the meter holds them, no vending station does.
        card = self.profile.card
        self.esam: Esam | None = commissioned_esam(self.profile, master_key)
        self.esam_trace: Any = None  # an ApduTrace: the ESAM's remote dialogue, if traced
        self._readback_master = readback_master  # the remote read-back MACs under it too
        fmt = card_format(card.format, where=f"meter profile {self.profile.name}: [card] format")
        self.terminal: MeterCardReader = fmt.meter_reader(
            self.engine, self.meter_no,
            MasterKeys(master_key, readback_master, secure_module=self.esam),
            key_revision=card.key_revision)
        self._serial_lock = threading.Lock()
        self._parser = FrameParser()
        self.powered = True
        self.clock_offset = timedelta(0)  # meter clock - bench clock (broadcast time, writes)
        self.log = MeterLog()
        self._nvm = b""  # the EEPROM image, written at each power-down
        # (opened, closed) seen by the cover switch while unpowered, recorded at power-up
        self._cover_latch: tuple[datetime | None, datetime | None] | None = None
        self._responder: _PowerGate | None = None
        self._iec: _PowerGate | None = None
        self.armed_cut: CutMoment | None = None  # the supply fails then in the next card session
        self.keypad: StsKeypad | None = None  # a keypad meter's STS token entry (the bench's)
        self._new_serial_side()

    def _new_serial_side(self) -> None:
        """Protocol state lives in RAM: a power-up starts a fresh session at the sign-on rate."""
        self._parser = FrameParser()
        p = self.profile.protocol
        if p.spec.wire is Wire.DLT645:
            responder = p.spec.responder(self.meter_no, MeterRegisters(self), p.serial,
                                         p.own_settings)
            if self.esam is not None:  # remote prepayment: the security commands (03H)
                responder.security = MeterSecurity(self, self.esam, self._readback_master)
            self._responder = _PowerGate(self, responder)
        else:
            self._iec = _PowerGate(self, iec_responder(self))

    def meter_now(self) -> datetime:
        """The meter's own clock: the bench clock plus what broadcasts and writes set."""
        return self.world.clock.now() + self.clock_offset

    def on_meter_clock(self, at: datetime) -> datetime:
        """A bench-clock event time as the meter's clock shows it now."""
        return at + self.clock_offset

    # -- supply, cover and non-volatile memory -----------------------------------------
    def power_down(self) -> None:
        """Supply lost: registers saved to NVM, RAM lost, the port and card slot go dead and
        the load behind the meter sees 0 V. Idempotent."""
        with self.world.lock:
            if not self.powered:
                return
            # The grid goes first (integrated up to this instant), then the registers are
            # saved: energy the bench clock runs on while the image is written is no one's,
            # not the load's alone (a loaded machine took milliseconds, minutes of bench time).
            self.world.set_outage(True)
            self.log.last_power_down = self.world.clock.now()
            self._nvm = self.nvm_image()
            self.powered = False
            nvm.wipe(self.engine, self.profile)
            if self.esam is not None:
                self.esam.end_identity()  # the session lives in RAM
            self.log = MeterLog()
            self.clock_offset = timedelta(0)

    def power_up(self) -> None:
        """Supply back: registers reloaded from NVM, a power-down event counted and logged."""
        with self.world.lock:
            if self.powered:
                return
            self.world.advance()
            self.restore_nvm(self._nvm)
            now = self.world.clock.now()
            self.engine.events.power_down_count += 1
            self.log.last_power_up = now
            self.engine.resume(now)
            self._record_latched_cover()
            self._new_serial_side()
            self.world.set_outage(False)
            self.powered = True

    def nvm_image(self) -> bytes:
        """Everything that survives a power cycle, as the bytes an EEPROM would hold."""
        return meter_image(self)

    def restore_nvm(self, raw: bytes) -> None:
        restore_meter_image(self, raw)

    def open_cover(self) -> None:
        """The terminal cover is lifted: a tamper event, counted and time-stamped. Without
        supply the cover switch latches it and the meter records it at power-up."""
        with self.world.lock:
            now = self.world.clock.now()
            if not self.powered:
                opened, closed = self._cover_latch or (None, None)
                if opened is None or (closed is not None and closed >= opened):
                    self._cover_latch = (now, closed)
                return
            if self.log.cover_open_since is not None:
                return
            self.world.advance()
            self.log.cover_open_since = self.log.last_cover_open = now
            self.log.last_cover_close = None
            self.engine.events.tamper_count += 1

    def close_cover(self) -> None:
        with self.world.lock:
            now = self.world.clock.now()
            if not self.powered:
                self._cover_latch = ((self._cover_latch or (None, None))[0], now)
                return
            if self.log.cover_open_since is None:
                return
            self.log.cover_open_since = None
            self.log.last_cover_close = now

    def _record_latched_cover(self) -> None:
        """At power-up: an opening the switch latched in the dark is a tamper event (unless the
        cover was already open at power-down); a later closing ends the open event."""
        latch, self._cover_latch = self._cover_latch, None
        if latch is None:
            return
        opened, closed = latch
        if opened is not None and self.log.cover_open_since is None:
            self.engine.events.tamper_count += 1
            self.log.cover_open_since = self.log.last_cover_open = opened
            self.log.last_cover_close = None
        since = self.log.cover_open_since
        if closed is not None and since is not None and closed >= since:
            self.log.cover_open_since = None
            self.log.last_cover_close = closed

    def set_meter_clock(self, moment: datetime, *, broadcast: bool) -> None:
        """Set the meter clock. A broadcast (unauthenticated) may only nudge it by 5 minutes,
        once per day and not within 5 minutes of midnight, as State Grid meters enforce."""
        now = self.meter_now()
        target = moment.replace(tzinfo=now.tzinfo) if moment.tzinfo is None else moment
        if broadcast:
            if abs(target - now) > BROADCAST_TIME_LIMIT:
                raise ValueError(f"broadcast time {moment:%Y-%m-%d %H:%M:%S} is more than 5 "
                                 "minutes off the meter clock: ignored")
            midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
            near = min(now - midnight, midnight + timedelta(days=1) - now)
            if near < BROADCAST_TIME_LIMIT:
                raise ValueError("broadcast time within 5 minutes of midnight: ignored")
            if self.log.last_broadcast_day == now.strftime("%Y%m%d"):
                raise ValueError("broadcast time already accepted today: ignored")
            self.log.last_broadcast_day = now.strftime("%Y%m%d")
        self.clock_offset += target - now

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
        """A card was inserted: one card session (rig.sim.meter_card_slot)."""
        return card_session(self, transport)

    def status_word_3(self) -> int:
        e = self.engine
        money = self.profile.credit.unit is CreditKind.MONEY
        word = di.SW3_METER_TYPE_MONEY_PREPAID if money else di.SW3_METER_TYPE_ENERGY_PREPAID
        if not e.relay_closed:
            word |= di.SW3_RELAY_OPEN | di.SW3_RELAY_COMMAND_OPEN
        if e.alarm2_active:
            word |= di.SW3_PRE_TRIP_ALARM
        return word | MeterSecurity.status_bits(self)  # keep-power (rig.sim.meter_remote_control)


class _PowerGate:
    """A protocol server that answers only while the meter has supply (RAM state included:
    a new one is built at each power-up)."""

    def __init__(self, meter: EmulatedMeter, server: Any) -> None:
        self._meter = meter
        self._server = server

    def respond(self, frame: Frame) -> Frame | None:
        return self._server.respond(frame) if self._meter.powered else None

    def serve_stream(self, data: bytes) -> bytes:
        return self._server.serve_stream(data) if self._meter.powered else b""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server, name)
