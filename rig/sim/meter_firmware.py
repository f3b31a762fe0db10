"""Firmware of the emulated prepaid meter: DL/T 645 register bank and IC-card terminal.

It wraps the prepaid engine with the meter's two interfaces: the serial protocol (a register
bank the DL/T 645 responder reads) and the card slot (a card terminal that verifies and
applies a purchase and writes the readback). The same profile that a real meter model is
certified against drives it, and it uses the same codecs as the rig, never its drivers.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from rig.card.apdu import MacError
from rig.card.keys import MasterKey, derive_meter_key
from rig.card.records import CardType, CreditUnit, ReadbackRecord
from rig.card.session import ApduTransport, CardSession
from rig.errors import CardError
from rig.meter.dlt645 import data_ids as di
from rig.meter.dlt645.frame import FrameParser, encode_frame
from rig.meter.dlt645.server import Dlt645Responder
from rig.profile import CreditKind, MeterProfile
from rig.sim.prepaid import PrepaidEngine
from rig.sim.world import BenchWorld


@dataclass(frozen=True)
class InsertionOutcome:
    """What the meter's display says after a card insertion."""

    accepted: bool
    applied_sequence: int | None
    message: str

    def to_dict(self) -> dict[str, object]:
        return {
            "accepted": self.accepted,
            "applied_sequence": self.applied_sequence,
            "message": self.message,
        }


class EmulatedMeter:
    """One emulated prepaid meter living in a bench world."""

    def __init__(self, world: BenchWorld, master_key: MasterKey) -> None:
        self.world = world
        self.profile: MeterProfile = world.profile
        self.meter_no = self.profile.protocol.address
        self._key = derive_meter_key(master_key, self.meter_no, self.profile.card.key_revision)
        self._parser = FrameParser()
        self._responder = Dlt645Responder(self.meter_no, _Registers(self))
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
    @property
    def _credit_unit(self) -> CreditUnit:
        return (CreditUnit.MONEY_CENTS if self.profile.credit.unit is CreditKind.MONEY
                else CreditUnit.ENERGY_WH)

    def insert_card(self, transport: ApduTransport) -> InsertionOutcome:
        """Run one insertion: check the card, apply tariff and purchase, write the readback.

        Refusals change no register: every check runs before the first change.
        """
        try:
            return self._insertion(transport)
        except CardError as e:  # unreadable, unissued or pulled card: registers untouched
            return InsertionOutcome(False, None, f"card error: {e}")

    def _insertion(self, transport: ApduTransport) -> InsertionOutcome:
        with self.world.lock:
            self.world.advance()
            now = self.world.clock.now()
            session = CardSession(transport)
            session.select_application()
            info = session.read_info()
            if info.card_type is not CardType.USER:
                return InsertionOutcome(False, None, f"not a user card ({info.card_type.name})")
            if info.meter_no != self.meter_no:
                return InsertionOutcome(False, None, f"card is for meter {info.meter_no}")
            message = "readback written"
            applied: int | None = None
            tariff = session.read_tariff()
            purchase = session.read_purchase()
            try:
                if tariff is not None:
                    tariff.verify(self._key)
                if purchase is not None:
                    purchase.verify(self._key)
            except MacError:
                return InsertionOutcome(False, None, "card data MAC invalid: refused")
            engine = self.engine
            if purchase is not None:
                if purchase.meter_no != self.meter_no:
                    return InsertionOutcome(False, None, f"purchase is for {purchase.meter_no}")
                if purchase.credit_unit is not self._credit_unit:
                    return InsertionOutcome(False, None, "purchase credit unit mismatch")
                if purchase.sequence <= engine.last_sequence:
                    message = f"purchase {purchase.sequence} already applied"
                elif engine.would_hoard(purchase.credit):
                    return InsertionOutcome(False, None, "hoarding limit exceeded: refused")
                else:
                    if tariff is not None and tariff.meter_no == self.meter_no:
                        engine.apply_tariff(tariff.version, tariff.price_per_kwh)
                    engine.apply_purchase(purchase.sequence, purchase.credit, now)
                    applied = purchase.sequence
                    message = f"credit applied (purchase {purchase.sequence})"
            if applied is None and tariff is not None and tariff.meter_no == self.meter_no:
                engine.apply_tariff(tariff.version, tariff.price_per_kwh)
            session.write_readback(self.readback(now))
            return InsertionOutcome(True, applied, message)

    def readback(self, at: datetime) -> ReadbackRecord:
        e = self.engine
        ev = e.events
        return ReadbackRecord(
            meter_no=self.meter_no,
            energy_wh=e.energy_wh,
            remaining=e.units(e.remaining),
            overdraft=e.units(e.overdraft),
            purchase_count=e.purchase_count,
            last_sequence=e.last_sequence,
            cumulative_purchase=e.units(e.cumulative_purchase),
            credit_unit=self._credit_unit,
            relay_open=not e.relay_closed,
            alarm_active=e.alarm1_active or e.alarm2_active,
            alarm_count=ev.alarm_count,
            cutoff_count=ev.cutoff_count,
            tamper_count=ev.tamper_count,
            power_down_count=ev.power_down_count,
            timestamp=at.replace(microsecond=0),
            tariff_version=e.tariff_version,
        ).sign(self._key)

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

