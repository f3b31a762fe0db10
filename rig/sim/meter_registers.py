"""The DL/T 645 register bank of the emulated meter: what each data identifier reads from the
engine, the meter's log and the world, and which ones a password-protected write (0x14), the
relay control command (0x1C) and a broadcast time set (0x08) may change."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, cast

from rig.meter.dlt645 import data_ids as di
from rig.meter.dlt645.client import RelayCommand
from rig.profile import CreditKind

if TYPE_CHECKING:
    from rig.sim.meter_firmware import EmulatedMeter


def two_dp(value: Decimal) -> Decimal:
    """A register value at the two decimals DL/T 645 shows, truncated as a display does."""
    return value.quantize(Decimal("0.01"), rounding=ROUND_DOWN)


class MeterRegisters:
    """The DL/T 645 register bank of an emulated meter (the responder's `RegisterBank`)."""

    def __init__(self, meter: EmulatedMeter) -> None:
        self._m = meter

    def values(self) -> dict[int, object]:
        m = self._m
        e = m.engine
        t = e.profile.thresholds  # live levels: parameter cards and writes change them
        now = m.meter_now()
        _, amps, watts = m.world.load.measure() if e.relay_closed else (Decimal(0),) * 3
        log = m.log
        ev = e.events
        values: dict[int, object] = {
            di.COMBINED_ACTIVE_TOTAL: two_dp(e.energy_kwh),
            di.FORWARD_ACTIVE_TOTAL: two_dp(e.energy_kwh),
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
                    two_dp(log.last_purchase_amount),
                di.LAST_REMAINING_BEFORE_PURCHASE if money
                else di.LAST_REMAINING_ENERGY_BEFORE_PURCHASE:
                    two_dp(log.remaining_before_purchase),
                di.LAST_REMAINING_AFTER_PURCHASE if money
                else di.LAST_REMAINING_ENERGY_AFTER_PURCHASE:
                    two_dp(log.remaining_after_purchase),
            }
        if money:
            values |= {
                di.REMAINING_AMOUNT: two_dp(e.remaining),
                di.OVERDRAFT_AMOUNT: two_dp(e.overdraft),
                di.LAST_PURCHASE_COUNT: e.purchase_count,
                di.LAST_CUMULATIVE_PURCHASE_AMOUNT: two_dp(e.cumulative_purchase),
                di.ALARM_AMOUNT_1: t.alarm1,
                di.ALARM_AMOUNT_2: t.alarm2,
                di.OVERDRAFT_AMOUNT_LIMIT: t.overdraft_limit,
                di.HOARDING_AMOUNT_LIMIT: t.hoarding_limit,
                di.CLOSE_ALLOWED_AMOUNT_LIMIT: t.close_allowed,
            }
        else:
            values |= {
                di.REMAINING_ENERGY: two_dp(e.remaining),
                di.OVERDRAFT_ENERGY: two_dp(e.overdraft),
                di.LAST_PURCHASE_COUNT_ENERGY: e.purchase_count,
                di.LAST_CUMULATIVE_PURCHASED_ENERGY: two_dp(e.cumulative_purchase),
                di.ALARM_ENERGY_1: t.alarm1,
                di.ALARM_ENERGY_2: t.alarm2,
                di.OVERDRAFT_ENERGY_LIMIT: t.overdraft_limit,
                di.HOARDING_ENERGY_LIMIT: t.hoarding_limit,
            }
        return values

    def read(self, data_id: int) -> bytes:
        """Encode one register; an identifier this meter lacks raises KeyError (no data)."""
        values = self.values()
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
        level = LEVEL_IDS[m.profile.credit.unit].get(data_id)
        if level is None:
            if data_id in self.values():
                raise ValueError(f"{data_id:08X} is read only")
            raise KeyError(data_id)
        m.engine.set_thresholds(**{level: cast(Decimal, value)})

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


LEVEL_IDS: dict[CreditKind, dict[int, str]] = {
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
