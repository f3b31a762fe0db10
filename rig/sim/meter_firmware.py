"""Firmware of the emulated prepaid meter: protocol server and IC-card terminal.

It wraps the prepaid engine with the meter's two interfaces: the serial protocol the profile
names (a DL/T 645 register bank here, or the IEC 62056-21 data bank of meter_firmware_iec)
and the card slot (the card reader of the profile's card format, found through
rig.card_formats.registry: it verifies and applies a purchase and writes the readback). The
same profile that a real meter model is certified against drives it, and it uses the same
codecs as the rig, never its drivers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from rig.card.keys import MasterKey
from rig.card.session import ApduTransport
from rig.card_formats.interface import (
    CardRefusal,
    InsertionOutcome,
    MasterKeys,
    MeterCardReader,
)
from rig.card_formats.registry import card_format
from rig.esam.esam import Esam, commissioned
from rig.esam.keys import LabKeyService
from rig.meter.card_errors import ILLEGAL
from rig.meter.dlt645 import data_ids as di
from rig.meter.dlt645.client import RelayCommand
from rig.meter.dlt645.frame import Frame, FrameParser, encode_frame
from rig.meter.protocols import Wire
from rig.profile import CreditKind, MeterProfile
from rig.sim import nvm
from rig.sim.meter_firmware_iec import iec_responder
from rig.sim.meter_security import MeterSecurity
from rig.sim.prepaid import PrepaidEngine
from rig.sim.sts_keypad import StsKeypad
from rig.sim.supply_cut import CutMoment, CuttingTransport, SupplyCut
from rig.sim.world import BenchWorld

# Silence on the line after which a half-received frame is thrown away, as a real meter's UART
# driver does (DL/T 645 allows at most 500 ms between the bytes of one frame). Wall time, not
# bench time: bytes cross the pty at wall speed whatever the bench time scale, and an
# accelerated 500 ms would be microseconds. 100 ms is many character times at any DL/T 645 rate
# (4.6 ms per character at 2400 Bd) yet shorter than any client's reply timeout, so a retry
# always meets a clean parser even after line noise corrupted a length byte.
FRAME_GAP_S = 0.1


BROADCAST_TIME_LIMIT = timedelta(minutes=5)  # a broadcast may move the clock this far at most


class PowerFailure(Exception):
    """The meter's supply failed in the middle of an operation (raised by a test's transport
    or by a power-down during a card session); the firmware saves its registers and stops."""


@dataclass
class MeterLog:
    """Records the firmware keeps beside the engine's event log (all non-volatile)."""

    cover_open_since: datetime | None = None
    last_cover_open: datetime | None = None
    last_cover_close: datetime | None = None
    last_power_down: datetime | None = None
    last_power_up: datetime | None = None
    last_purchase_at: datetime | None = None
    last_purchase_amount: Decimal = Decimal(0)
    remaining_before_purchase: Decimal = Decimal(0)
    remaining_after_purchase: Decimal = Decimal(0)
    last_broadcast_day: str = ""  # meter-clock date of the last accepted broadcast time
    card_refusals: int = 0  # insertions refused (wrong meter, MAC, hoarding, unreadable...)
    last_card_refusal: datetime | None = None
    illegal_card_refusals: int = 0  # the refusals whose code is an illegal insertion
    # The last ten abnormal card insertion records, newest first (kept in NVM as their bytes).
    abnormal_cards: tuple[di.AbnormalCardRecord, ...] = ()


_RECORDS = "abnormal_cards"  # the MeterLog field saved as record bytes, not as a scalar


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
            responder = p.spec.responder(self.meter_no, _Registers(self), p.serial,
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
            self.world.advance()
            self.log.last_power_down = self.world.clock.now()
            self._nvm = self.nvm_image()
            self.powered = False
            self.world.set_outage(True)
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
        return nvm.dumps({
            "engine": nvm.engine_image(self.engine),
            "log": {f.name: nvm.encode_value(getattr(self.log, f.name), f"log.{f.name}")
                    for f in fields(self.log) if f.name != _RECORDS},
            _RECORDS: [di.encode_value(di.LAST_ABNORMAL_CARD_RECORD, r).hex()
                       for r in self.log.abnormal_cards],
            "clock_offset_s": nvm.encode_value(self.clock_offset.total_seconds(), "clock"),
            "terminal": self.terminal.nvm_state(),
            "esam": None if self.esam is None else self.esam.to_image(),
        })

    def restore_nvm(self, raw: bytes) -> None:
        image = nvm.loads(raw)
        nvm.restore_engine(self.engine, image["engine"], self.profile)
        self.log = MeterLog(**{k: nvm.decode_value(v) for k, v in image["log"].items()})
        self.log.abnormal_cards = tuple(
            di.decode_value(di.LAST_ABNORMAL_CARD_RECORD, bytes.fromhex(raw))
            for raw in image[_RECORDS])
        offset = nvm.decode_value(image["clock_offset_s"])
        self.clock_offset = timedelta(seconds=float(offset))  # type: ignore[arg-type]
        self.terminal.restore_nvm_state(image["terminal"])
        if self.esam is not None and image.get("esam") is not None:
            self.esam.restore_image(image["esam"])

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
        """A card was inserted: run the card terminal with the world held still.

        An accepted card of this meter also clears an alarm-2 relay trip (the customer has
        seen the warning); a refused card changes nothing.
        """
        with self.world.lock:
            if not self.powered:
                return InsertionOutcome(False, None, "meter has no supply: card not read")
            self.world.advance()
            now = self.world.clock.now()
            before = (self.engine.remaining, self.engine.cumulative_purchase)
            cut, self.armed_cut = self.armed_cut, None
            if cut is not None:
                transport = CuttingTransport(transport, cut)
            try:
                outcome = self.terminal.insert(transport, now)
            except (PowerFailure, SupplyCut) as e:
                self.power_down()
                return InsertionOutcome(False, None, f"power failed during the card session "
                                                     f"({e})")
            if outcome.accepted:
                self.engine.card_inserted(now)
            else:
                self.log.card_refusals += 1
                self.log.last_card_refusal = now
                if outcome.refusal is not None:
                    self._record_abnormal_card(outcome.refusal, now)
            if outcome.applied_sequence is not None:
                self.log.last_purchase_at = now
                self.log.last_purchase_amount = self.engine.cumulative_purchase - before[1]
                self.log.remaining_before_purchase = before[0]
                self.log.remaining_after_purchase = self.engine.remaining
            return outcome

    def _record_abnormal_card(self, refusal: CardRefusal, now: datetime) -> None:
        """The abnormal card insertion record: the refusal and the registers it left as they
        were, on the meter clock; the ten newest are kept."""
        e = self.engine
        record = di.AbnormalCardRecord(
            at=self.on_meter_clock(now).strftime("%y%m%d%H%M%S"),
            card_serial=refusal.card_serial, error=int(refusal.code),
            command_header=refusal.command_header, response_status=refusal.status_word,
            purchase_count=e.purchase_count, remaining=_two_dp(e.remaining),
            forward_energy=_two_dp(e.energy_kwh), reverse_energy=Decimal(0))
        log = self.log
        log.abnormal_cards = (record, *log.abnormal_cards)[:di.ABNORMAL_CARD_RECORDS]
        if refusal.code in ILLEGAL:
            log.illegal_card_refusals += 1

    def status_word_3(self) -> int:
        e = self.engine
        money = self.profile.credit.unit is CreditKind.MONEY
        word = di.SW3_METER_TYPE_MONEY_PREPAID if money else di.SW3_METER_TYPE_ENERGY_PREPAID
        if not e.relay_closed:
            word |= di.SW3_RELAY_OPEN | di.SW3_RELAY_COMMAND_OPEN
        if e.alarm2_active:
            word |= di.SW3_PRE_TRIP_ALARM
        return word | MeterSecurity.status_bits(self)  # keep-power (rig.sim.meter_remote_control)


def _two_dp(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_DOWN)


class _Registers:
    """The DL/T 645 register bank of an emulated meter."""

    def __init__(self, meter: EmulatedMeter) -> None:
        self._m = meter

    def _values(self) -> dict[int, object]:
        m = self._m
        e = m.engine
        t = e.profile.thresholds  # live levels: parameter cards and writes change them
        now = m.meter_now()
        _, amps, watts = m.world.load.measure() if e.relay_closed else (Decimal(0),) * 3
        log = m.log
        ev = e.events
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
            di.POWER_DOWN_COUNT: ev.power_down_count,
            di.COVER_OPEN_COUNT: ev.tamper_count,
            di.ABNORMAL_CARD_COUNT: log.card_refusals,
            di.ILLEGAL_CARD_COUNT: log.illegal_card_refusals,
            **{di.LAST_ABNORMAL_CARD_RECORD + i: record
               for i, record in enumerate(log.abnormal_cards)},
        }
        if ev.last_cutoff is not None:
            values[di.LAST_TRIP_RECORD] = m.on_meter_clock(ev.last_cutoff)
        if ev.last_reconnect is not None:
            values[di.LAST_CLOSE_RECORD] = m.on_meter_clock(ev.last_reconnect)
        if log.last_power_down is not None and log.last_power_up is not None:
            values[di.LAST_POWER_DOWN_RECORD] = (m.on_meter_clock(log.last_power_down),
                                                 m.on_meter_clock(log.last_power_up))
        if log.last_cover_open is not None:
            end = log.last_cover_close
            values[di.LAST_COVER_OPEN_RECORD] = (m.on_meter_clock(log.last_cover_open),
                                                 m.on_meter_clock(end) if end else None)
        money = m.profile.credit.unit is CreditKind.MONEY
        if log.last_purchase_at is not None:
            values |= {
                di.LAST_PURCHASE_DATE if money else di.LAST_PURCHASE_DATE_ENERGY:
                    m.on_meter_clock(log.last_purchase_at),
                di.LAST_PURCHASE_AMOUNT if money else di.LAST_PURCHASE_ENERGY:
                    _two_dp(log.last_purchase_amount),
                di.LAST_REMAINING_BEFORE_PURCHASE if money
                else di.LAST_REMAINING_ENERGY_BEFORE_PURCHASE:
                    _two_dp(log.remaining_before_purchase),
                di.LAST_REMAINING_AFTER_PURCHASE if money
                else di.LAST_REMAINING_ENERGY_AFTER_PURCHASE:
                    _two_dp(log.remaining_after_purchase),
            }
        if money:
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
        """0x14 with the profile's password: the clock and the prepayment levels.

        Other registers the meter has are read only (other error); unknown ones are no data.
        Levels are validated as a profile's are, so a write that would break their order is
        refused and changes nothing.
        """
        self._check_password(password)
        m = self._m
        value = di.decode_value(data_id, data)
        if data_id == di.DATE_WEEK:
            now = m.meter_now()
            day = di.to_date(str(value))
            m.set_meter_clock(now.replace(year=day.year, month=day.month, day=day.day),
                              broadcast=False)
            return
        if data_id == di.TIME:
            t = di.to_time(str(value))
            now = m.meter_now()
            m.set_meter_clock(now.replace(hour=t.hour, minute=t.minute, second=t.second,
                                          microsecond=0), broadcast=False)
            return
        level = _LEVEL_IDS[m.profile.credit.unit].get(data_id)
        if level is None:
            if data_id in self._values():
                raise ValueError(f"{data_id:08X} is read only")
            raise KeyError(data_id)
        m.engine.set_thresholds(**{level: value})

    def relay_control(self, command: int, password: bytes, operator: bytes,
                      valid_until: datetime | None = None) -> None:
        """0x1C with the profile's password, if the profile enables remote relay control; a
        command whose validity deadline has passed on the meter clock is refused."""
        settings = self._m.profile.protocol.dlt645
        if settings is None or not settings.remote_relay_control:
            raise PermissionError("remote relay control is not enabled on this meter")
        self._check_password(password)
        e = self._m.engine
        now = self._m.world.clock.now()
        if valid_until is not None and valid_until < self._m.meter_now().replace(tzinfo=None):
            raise ValueError(f"relay command expired at {valid_until:%Y-%m-%d %H:%M:%S}")
        if command == RelayCommand.TRIP:
            e.remote_relay(False, now)
        elif command in (RelayCommand.CLOSE_ALLOWED, RelayCommand.CLOSE_DIRECT):
            e.remote_relay(True, now)  # credit rules may still keep it open
        else:
            raise ValueError(f"relay command {command:02X} not supported")

    def set_time(self, dt: datetime) -> None:
        """Broadcast time sync (limits in EmulatedMeter.set_meter_clock)."""
        self._m.set_meter_clock(dt, broadcast=True)


_LEVEL_IDS: dict[CreditKind, dict[int, str]] = {
    CreditKind.MONEY: {
        di.ALARM_AMOUNT_1: "alarm1", di.ALARM_AMOUNT_2: "alarm2",
        di.OVERDRAFT_AMOUNT_LIMIT: "overdraft_limit", di.HOARDING_AMOUNT_LIMIT: "hoarding_limit",
        di.CLOSE_ALLOWED_AMOUNT_LIMIT: "close_allowed",
    },
    CreditKind.ENERGY: {
        di.ALARM_ENERGY_1: "alarm1", di.ALARM_ENERGY_2: "alarm2",
        di.OVERDRAFT_ENERGY_LIMIT: "overdraft_limit", di.HOARDING_ENERGY_LIMIT: "hoarding_limit",
    },
}


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
