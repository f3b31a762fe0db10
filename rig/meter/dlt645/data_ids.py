"""DL/T 645-2007 data identifiers (DI) used by the rig, with their value formats.

A DI is written here as one 32-bit int ``DI3 DI2 DI1 DI0`` (e.g. ``0x00900200``); on the wire
DI0 goes first.  Numeric values are BCD, least significant byte first on the wire.  Signed
quantities (current, power, combined energy) carry the sign in the top bit of the most
significant byte (0 positive, 1 negative), so a 3-byte XXX.XXX current spans -799.999..799.999.

Money and energy decode to ``Decimal`` (never float); counts decode to ``int``.  Dates and
times decode to strings in the standard's own notation (``YYMMDDWW``, ``hhmmss``,
``YYMMDDhhmmss``) so a decoded value re-encodes byte for byte; ``to_date``/``to_time``/
``to_datetime`` turn them into ``datetime`` objects.  An abnormal card insertion record
decodes to an ``AbnormalCardRecord``, which re-encodes byte for byte too.
"""

from __future__ import annotations

# The types and date notations the table is written in, named here for its users (noqa: the
# re-export is the point).
from rig.meter.dlt645 import values
from rig.meter.dlt645.data_types import (  # noqa: F401
    AbnormalCardRecord,
    DataFormatError,
    DataId,
    Kind,
    UnknownDataId,
    Value,
    to_date,
    to_datetime,
    to_time,
)
from rig.meter.dlt645.values import datetime_from_wire, datetime_to_wire  # noqa: F401

COMBINED_ACTIVE_TOTAL = 0x00000000
FORWARD_ACTIVE_TOTAL = 0x00010000
REVERSE_ACTIVE_TOTAL = 0x00020000
PHASE_A_VOLTAGE = 0x02010100
PHASE_A_CURRENT = 0x02020100
TOTAL_ACTIVE_POWER = 0x02030000
REMAINING_ENERGY = 0x00900100
OVERDRAFT_ENERGY = 0x00900101
REMAINING_AMOUNT = 0x00900200
OVERDRAFT_AMOUNT = 0x00900201
LAST_PURCHASE_DATE_ENERGY = 0x03320101  # energy-prepaid meters
LAST_PURCHASE_COUNT_ENERGY = 0x03320201
LAST_PURCHASE_ENERGY = 0x03320301
LAST_REMAINING_ENERGY_BEFORE_PURCHASE = 0x03320401
LAST_REMAINING_ENERGY_AFTER_PURCHASE = 0x03320501
LAST_CUMULATIVE_PURCHASED_ENERGY = 0x03320601
LAST_PURCHASE_DATE = 0x03330101  # money-prepaid meters
LAST_PURCHASE_COUNT = 0x03330201
LAST_PURCHASE_AMOUNT = 0x03330301
LAST_REMAINING_BEFORE_PURCHASE = 0x03330401
LAST_REMAINING_AFTER_PURCHASE = 0x03330501
LAST_CUMULATIVE_PURCHASE_AMOUNT = 0x03330601
ALARM_ENERGY_1 = 0x04000F01
ALARM_ENERGY_2 = 0x04000F02
HOARDING_ENERGY_LIMIT = 0x04000F03
OVERDRAFT_ENERGY_LIMIT = 0x04000F04
ALARM_AMOUNT_1 = 0x04001001
ALARM_AMOUNT_2 = 0x04001002
OVERDRAFT_AMOUNT_LIMIT = 0x04001003
HOARDING_AMOUNT_LIMIT = 0x04001004
CLOSE_ALLOWED_AMOUNT_LIMIT = 0x04001005
DATE_WEEK = 0x04000101
TIME = 0x04000102
COMM_ADDRESS = 0x04000401
METER_NUMBER = 0x04000402
STATUS_WORD_1 = 0x04000501
STATUS_WORD_2 = 0x04000502
STATUS_WORD_3 = 0x04000503
STATUS_WORD_4 = 0x04000504
STATUS_WORD_5 = 0x04000505
STATUS_WORD_6 = 0x04000506
STATUS_WORD_7 = 0x04000507
LAST_TRIP_RECORD = 0x1D000101
LAST_CLOSE_RECORD = 0x1E000101  # (last 1) close record; same layout as the trip record
POWER_DOWN_COUNT = 0x03110000
LAST_POWER_DOWN_RECORD = 0x03110001  # start + end, 12 bytes
COVER_OPEN_COUNT = 0x03300D00
LAST_COVER_OPEN_RECORD = 0x03300D01  # start + end + 12 energies (4 bytes each), 60 bytes
# Prepayment (State Grid) event records; sources in docs/protocols.md.
ABNORMAL_CARD_COUNT = 0x03301300  # total abnormal (refused) card insertions
LAST_ABNORMAL_CARD_RECORD = 0x03301301  # (last 1) record; 0x03301302..0A are the last 2..10
ABNORMAL_CARD_RECORDS = 10
ILLEGAL_CARD_COUNT = 0x03301400  # total illegal insertions (a subset of the abnormal ones)

# Meter run status word 3 (0x04000503, "operation" class) bits.
SW3_TIME_SLOT_SET_2 = 1 << 0  # current daily time-slot table: 0 first set, 1 second set
SW3_SUPPLY_MASK = 0b11 << 1  # supply: 00 main, 01 auxiliary, 10 battery
SW3_SUPPLY_AUXILIARY = 0b01 << 1
SW3_SUPPLY_BATTERY = 0b10 << 1
SW3_PROGRAMMING_ENABLED = 1 << 3
SW3_RELAY_OPEN = 1 << 4  # actual relay state: 0 closed (supplying), 1 open (cut off)
SW3_TIME_ZONE_SET_2 = 1 << 5
SW3_RELAY_COMMAND_OPEN = 1 << 6  # last relay command: 0 close, 1 open
SW3_PRE_TRIP_ALARM = 1 << 7  # 0 none, 1 pre-trip alarm active
SW3_METER_TYPE_MASK = 0b11 << 8  # 00 not prepaid, 01 prepaid by energy, 10 prepaid by money
SW3_METER_TYPE_ENERGY_PREPAID = 0b01 << 8
SW3_METER_TYPE_MONEY_PREPAID = 0b10 << 8
SW3_TARIFF_SET_2 = 1 << 10
SW3_STEP_SET_2 = 1 << 11
# Bits 12-15 come from the State Grid smart-meter extensions of the 2007 standard.
SW3_KEEP_POWER = 1 << 12  # keep-power (protected supply) state
SW3_AUTHENTICATED = 1 << 13
SW3_LOCAL_ACCOUNT_NOT_OPENED = 1 << 14
SW3_REMOTE_ACCOUNT_NOT_OPENED = 1 << 15

_KWH = "kWh"
_YUAN = "yuan"


def _num(di: int, name: str, length: int, decimals: int, unit: str, signed: bool = False) -> DataId:
    return DataId(di, name, Kind.NUMBER, length, decimals, unit, signed)


REGISTRY: dict[int, DataId] = {
    d.di: d
    for d in (
        _num(COMBINED_ACTIVE_TOTAL, "combined active energy total", 4, 2, _KWH, signed=True),
        _num(FORWARD_ACTIVE_TOTAL, "forward active energy total", 4, 2, _KWH),
        _num(REVERSE_ACTIVE_TOTAL, "reverse active energy total", 4, 2, _KWH),
        _num(PHASE_A_VOLTAGE, "phase A voltage", 2, 1, "V"),
        _num(PHASE_A_CURRENT, "phase A current", 3, 3, "A", signed=True),
        _num(TOTAL_ACTIVE_POWER, "total active power", 3, 4, "kW", signed=True),
        _num(REMAINING_ENERGY, "remaining energy", 4, 2, _KWH),
        _num(OVERDRAFT_ENERGY, "overdraft energy", 4, 2, _KWH),
        _num(REMAINING_AMOUNT, "remaining amount", 4, 2, _YUAN),
        _num(OVERDRAFT_AMOUNT, "overdraft amount", 4, 2, _YUAN),
        DataId(LAST_PURCHASE_DATE_ENERGY, "last purchase date (energy)", Kind.DATETIME_MIN, 5),
        _num(LAST_PURCHASE_COUNT_ENERGY, "purchase count after last purchase (energy)", 2, 0, ""),
        _num(LAST_PURCHASE_ENERGY, "last purchased energy", 4, 2, _KWH),
        _num(LAST_REMAINING_ENERGY_BEFORE_PURCHASE, "remaining energy before last purchase", 4,
             2, _KWH),
        _num(LAST_REMAINING_ENERGY_AFTER_PURCHASE, "remaining energy after last purchase", 4, 2,
             _KWH),
        _num(
            LAST_CUMULATIVE_PURCHASED_ENERGY,
            "cumulative purchased energy after last purchase",
            4,
            2,
            _KWH,
        ),
        DataId(LAST_PURCHASE_DATE, "last purchase date", Kind.DATETIME_MIN, 5),
        _num(LAST_PURCHASE_COUNT, "purchase count after last purchase", 2, 0, ""),
        _num(LAST_PURCHASE_AMOUNT, "last purchase amount", 4, 2, _YUAN),
        _num(LAST_REMAINING_BEFORE_PURCHASE, "remaining amount before last purchase", 4, 2, _YUAN),
        _num(LAST_REMAINING_AFTER_PURCHASE, "remaining amount after last purchase", 4, 2, _YUAN),
        _num(
            LAST_CUMULATIVE_PURCHASE_AMOUNT,
            "cumulative purchase amount after last purchase",
            4,
            2,
            _YUAN,
        ),
        _num(ALARM_ENERGY_1, "alarm energy 1 limit", 4, 2, _KWH),
        _num(ALARM_ENERGY_2, "alarm energy 2 limit", 4, 2, _KWH),
        _num(HOARDING_ENERGY_LIMIT, "hoarding energy limit", 4, 2, _KWH),
        _num(OVERDRAFT_ENERGY_LIMIT, "overdraft energy limit", 4, 2, _KWH),
        _num(ALARM_AMOUNT_1, "alarm amount 1 limit", 4, 2, _YUAN),
        _num(ALARM_AMOUNT_2, "alarm amount 2 limit", 4, 2, _YUAN),
        _num(OVERDRAFT_AMOUNT_LIMIT, "overdraft amount limit", 4, 2, _YUAN),
        _num(HOARDING_AMOUNT_LIMIT, "hoarding amount limit", 4, 2, _YUAN),
        _num(CLOSE_ALLOWED_AMOUNT_LIMIT, "close-allowed amount limit", 4, 2, _YUAN),
        DataId(DATE_WEEK, "date and week", Kind.DATE_WEEK, 4),
        DataId(TIME, "time", Kind.TIME, 3),
        DataId(COMM_ADDRESS, "communication address", Kind.DIGITS, 6),
        DataId(METER_NUMBER, "meter number", Kind.DIGITS, 6),
        *(
            DataId(STATUS_WORD_1 + i, f"meter run status word {i + 1}", Kind.WORD, 2)
            for i in range(7)
        ),
        DataId(LAST_TRIP_RECORD, "last trip (relay open) record", Kind.TRIP_RECORD, 34),
        DataId(LAST_CLOSE_RECORD, "last close (relay closed) record", Kind.TRIP_RECORD, 34),
        _num(POWER_DOWN_COUNT, "power-down count", 3, 0, ""),
        DataId(LAST_POWER_DOWN_RECORD, "last power-down record", Kind.SPAN_RECORD, 12),
        _num(COVER_OPEN_COUNT, "cover-open count", 3, 0, ""),
        DataId(LAST_COVER_OPEN_RECORD, "last cover-open record", Kind.SPAN_RECORD, 60),
        _num(ABNORMAL_CARD_COUNT, "abnormal card insertion count", 3, 0, ""),
        *(
            DataId(LAST_ABNORMAL_CARD_RECORD + i, f"abnormal card insertion record (last {i + 1})",
                   Kind.CARD_RECORD, 36)
            for i in range(ABNORMAL_CARD_RECORDS)
        ),
        _num(ILLEGAL_CARD_COUNT, "illegal card insertion count", 3, 0, ""),
    )
}


def lookup(di: int) -> DataId:
    """The format of ``di``; UnknownDataId (a KeyError) names the DI if it is not registered."""
    try:
        return REGISTRY[di]
    except KeyError:
        raise UnknownDataId(
            f"data identifier {di:08X} is not in the DL/T 645 registry (rig.meter.dlt645.data_ids)"
        ) from None


def di_to_bytes(di: int) -> bytes:
    """DI as sent on the wire: DI0 first."""
    if not 0 <= di <= 0xFFFFFFFF:
        raise DataFormatError(f"data identifier {di!r} is not a 32-bit value")
    return di.to_bytes(4, "little")


def di_from_bytes(raw: bytes) -> int:
    if len(raw) != 4:
        raise DataFormatError(f"data identifier needs 4 bytes, got {raw.hex(' ').upper()!r}")
    return int.from_bytes(raw, "little")


def encode_value(di: int, value: object) -> bytes:
    """Plain data bytes (no DI, no +33H) for ``value`` in the format of ``di``."""
    return values.encode(lookup(di), value)


def decode_value(di: int, data: bytes) -> Value:
    """Decode plain data bytes of ``di`` (see the module docstring for the result types)."""
    return values.decode(lookup(di), data)
