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

import datetime as dt
import enum
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from rig.errors import ProtocolError
from rig.meter.card_errors import CardErrorCode


class DataFormatError(ProtocolError, ValueError):
    """A value does not fit a DI's format, or reply bytes are not valid for it."""


@dataclass(frozen=True)
class AbnormalCardRecord:
    """One abnormal card insertion record (03301301..0A, 36 bytes; docs/protocols.md).

    ``at`` is the insertion time as YYMMDDhhmmss (``000000000000`` in a slot never written),
    ``card_serial`` the card's 8-byte serial as 16 hex digits, ``error`` the error information
    word (a `CardErrorCode` value), ``command_header`` the 5-byte header CLA INS P1 P2 P3 of
    the card command that failed and ``response_status`` its SW1 SW2 (both zero when the
    refusal was not a failed command). The rest are the registers at insertion: purchase
    count, remaining credit (money, or kWh on an energy meter) and the forward and reverse
    active energy totals in kWh.
    """

    at: str
    card_serial: str
    error: int
    command_header: bytes = bytes(5)
    response_status: int = 0
    purchase_count: int = 0
    remaining: Decimal = Decimal(0)
    forward_energy: Decimal = Decimal(0)
    reverse_energy: Decimal = Decimal(0)

    @property
    def occurred(self) -> dt.datetime | None:
        """Insertion time (naive, meter clock); None for a slot never written."""
        return None if self.at == _NO_TIME else to_datetime(self.at)

    @property
    def reason(self) -> CardErrorCode | None:
        """The error word as a known code; None if it is not one of the table's."""
        try:
            return CardErrorCode(self.error)
        except ValueError:
            return None


Value = Decimal | int | str | AbnormalCardRecord


class UnknownDataId(ProtocolError, KeyError):
    """The DI is not in the registry (or, on the meter side, not supported)."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0]) if self.args else "unknown data identifier"


class Kind(enum.Enum):
    NUMBER = "number"  # BCD, fixed decimals, optional sign bit
    DATE_WEEK = "YYMMDDWW"
    TIME = "hhmmss"
    DATETIME = "YYMMDDhhmmss"
    DIGITS = "NNNNNNNNNNNN"  # address / meter number: 12 BCD digits
    WORD = "status word"  # 16-bit little-endian bit field, not BCD
    TRIP_RECORD = "trip record"  # event record whose first 6 bytes are YYMMDDhhmmss
    DATETIME_MIN = "YYMMDDhhmm"  # purchase dates
    SPAN_RECORD = "start/end record"  # YYMMDDhhmmss start, YYMMDDhhmmss end (0s: not ended)
    CARD_RECORD = "abnormal card record"  # AbnormalCardRecord


@dataclass(frozen=True)
class DataId:
    """Format of one data identifier as the standard's appendix gives it."""

    di: int
    name: str
    kind: Kind
    length: int  # bytes on the wire
    decimals: int = 0
    unit: str = ""
    signed: bool = False

    @property
    def digits(self) -> int:
        return self.length * 2

    @property
    def pattern(self) -> str:
        """Format notation, e.g. ``XXXXXX.XX``."""
        if self.kind is not Kind.NUMBER:
            return self.kind.value
        whole = "X" * (self.digits - self.decimals)
        return whole + ("." + "X" * self.decimals if self.decimals else "")

    def __str__(self) -> str:
        return f"{self.di:08X} {self.name}"


# --- identifiers ------------------------------------------------------------------------------

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


# --- BCD helpers -------------------------------------------------------------------------------


def _bcd_from_digits(text: str) -> bytes:
    """``"123456"`` -> wire bytes ``56 34 12`` (least significant byte first)."""
    return bytes(int(text[i : i + 2], 16) for i in range(len(text) - 2, -1, -2))


def _digits_from_bcd(raw: bytes, what: str) -> str:
    text = bytes(reversed(raw)).hex().upper()
    if not text.isdigit():
        raise DataFormatError(f"{what}: bytes {raw.hex(' ').upper()} are not BCD")
    return text


def _encode_number(d: DataId, value: object) -> bytes:
    if isinstance(value, float):
        raise DataFormatError(f"{d}: pass Decimal or int, not float ({value!r})")
    try:
        number = Decimal(value)  # type: ignore[arg-type]
    except (InvalidOperation, TypeError, ValueError):
        raise DataFormatError(f"{d}: {value!r} is not a number") from None
    if not number.is_finite():
        raise DataFormatError(f"{d}: {value!r} is not finite")
    scaled = number.scaleb(d.decimals)
    if scaled != scaled.to_integral_value():
        raise DataFormatError(f"{d}: {value} has more than {d.decimals} decimals ({d.pattern})")
    magnitude = abs(int(scaled))
    negative = scaled < 0
    if negative and not d.signed:
        raise DataFormatError(f"{d}: negative value {value} for an unsigned quantity")
    limit = 10**d.digits if not d.signed else 8 * 10 ** (d.digits - 1)
    if magnitude >= limit:
        top = Decimal(limit - 1).scaleb(-d.decimals)
        raise DataFormatError(f"{d}: {value} out of range (max magnitude {top}, {d.pattern})")
    raw = bytearray(_bcd_from_digits(f"{magnitude:0{d.digits}d}"))
    if negative:
        raw[-1] |= 0x80
    return bytes(raw)


def _decode_number(d: DataId, raw: bytes) -> Decimal | int:
    data = bytearray(raw)
    negative = False
    if d.signed and data[-1] & 0x80:
        negative = True
        data[-1] &= 0x7F
    magnitude = int(_digits_from_bcd(bytes(data), str(d)))
    if d.decimals == 0:
        return -magnitude if negative else magnitude
    result = Decimal(magnitude).scaleb(-d.decimals)
    return -result if negative else result


def _as_digits(d: DataId, value: object, fmt: str) -> str:
    """Accept the standard's digit string or a date/time object; return the digit string."""
    if isinstance(value, dt.datetime):
        if fmt == "YYMMDDWW":
            return value.strftime("%y%m%d") + f"{value.isoweekday() % 7:02d}"
        if fmt == "hhmmss":
            return value.strftime("%H%M%S")
        return value.strftime("%y%m%d%H%M%S")
    if isinstance(value, dt.date) and fmt == "YYMMDDWW":
        return value.strftime("%y%m%d") + f"{value.isoweekday() % 7:02d}"
    if isinstance(value, dt.time) and fmt == "hhmmss":
        return value.strftime("%H%M%S")
    if isinstance(value, str) and len(value) == len(fmt) and value.isdigit():
        return value
    raise DataFormatError(f"{d}: {value!r} does not fit {fmt}")


def _check_datetime_digits(d: DataId, text: str, fmt: str) -> None:
    try:
        if fmt == "YYMMDDWW":
            to_date(text)
            if int(text[6:]) > 6:
                raise ValueError("week day must be 00 (Sunday) .. 06")
        elif fmt == "hhmmss":
            to_time(text)
        else:
            to_datetime(text)
    except ValueError as exc:
        raise DataFormatError(f"{d}: {text} is not a valid {fmt} ({exc})") from None


def encode_value(di: int, value: object) -> bytes:
    """Plain data bytes (no DI, no +33H) for ``value`` in the format of ``di``."""
    d = lookup(di)
    if d.kind is Kind.NUMBER:
        return _encode_number(d, value)
    if d.kind is Kind.WORD:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFFFF:
            raise DataFormatError(f"{d}: status word must be an int 0..0xFFFF, not {value!r}")
        return value.to_bytes(2, "little")
    if d.kind is Kind.DIGITS:
        if not (isinstance(value, str) and len(value) == 12 and value.isdigit()):
            raise DataFormatError(f"{d}: {value!r} is not 12 decimal digits")
        return _bcd_from_digits(value)
    if d.kind is Kind.TRIP_RECORD:
        text = _as_digits(d, value, "YYMMDDhhmmss")
        _check_datetime_digits(d, text, "YYMMDDhhmmss")
        # Only the occurrence time is modelled; operator code and energies are zero-filled.
        return _bcd_from_digits(text) + bytes(d.length - 6)
    if d.kind is Kind.SPAN_RECORD:
        return _encode_span(d, value)
    if d.kind is Kind.CARD_RECORD:
        return _encode_card_record(d, value)
    if d.kind is Kind.DATETIME_MIN:
        if isinstance(value, dt.datetime):
            value = value.strftime("%y%m%d%H%M")
        if not (isinstance(value, str) and len(value) == 10 and value.isdigit()):
            raise DataFormatError(f"{d}: {value!r} does not fit YYMMDDhhmm")
        _check_datetime_digits(d, value + "00", "YYMMDDhhmmss")
        return _bcd_from_digits(value)
    fmt = d.kind.value
    text = _as_digits(d, value, fmt)
    _check_datetime_digits(d, text, fmt)
    return _bcd_from_digits(text)


def decode_value(di: int, data: bytes) -> Value:
    """Decode plain data bytes of ``di`` (see the module docstring for the result types)."""
    d = lookup(di)
    data = bytes(data)
    if d.kind is Kind.SPAN_RECORD:
        return _decode_span(d, data)
    if d.kind is Kind.CARD_RECORD:
        return _decode_card_record(d, data)
    if d.kind is Kind.TRIP_RECORD:
        if len(data) < 6:
            raise DataFormatError(f"{d}: need at least 6 bytes, got {len(data)}")
        text = _digits_from_bcd(data[:6], str(d))
        _check_datetime_digits(d, text, "YYMMDDhhmmss")
        return text
    if len(data) != d.length:
        raise DataFormatError(
            f"{d}: expected {d.length} bytes, got {len(data)} ({data.hex(' ').upper() or 'empty'})"
        )
    if d.kind is Kind.NUMBER:
        return _decode_number(d, data)
    if d.kind is Kind.WORD:
        return int.from_bytes(data, "little")
    text = _digits_from_bcd(data, str(d))
    if d.kind is Kind.DATETIME_MIN:
        _check_datetime_digits(d, text + "00", "YYMMDDhhmmss")
    elif d.kind is not Kind.DIGITS:
        _check_datetime_digits(d, text, d.kind.value)
    return text


_NOT_ENDED = _NO_TIME = "000000000000"


def _encode_span(d: DataId, value: object) -> bytes:
    """(start, end) with end None while the event lasts -> start, end (zeros), zero energies."""
    if not (isinstance(value, tuple) and len(value) == 2):
        raise DataFormatError(f"{d}: expected (start, end or None), not {value!r}")
    start = _as_digits(d, value[0], "YYMMDDhhmmss")
    _check_datetime_digits(d, start, "YYMMDDhhmmss")
    if value[1] is None:
        end = _NOT_ENDED
    else:
        end = _as_digits(d, value[1], "YYMMDDhhmmss")
        _check_datetime_digits(d, end, "YYMMDDhhmmss")
    # Only the times are modelled; the energy snapshots of a 60-byte record are zero-filled.
    return _bcd_from_digits(start) + _bcd_from_digits(end) + bytes(d.length - 12)


def _decode_span(d: DataId, data: bytes) -> str:
    """The record's 24 digits: start YYMMDDhhmmss then end (000000000000 if not ended)."""
    if len(data) != d.length:
        raise DataFormatError(f"{d}: expected {d.length} bytes, got {len(data)}")
    start = _digits_from_bcd(data[:6], str(d))
    end = _digits_from_bcd(data[6:12], str(d))
    _check_datetime_digits(d, start, "YYMMDDhhmmss")
    if end != _NOT_ENDED:
        _check_datetime_digits(d, end, "YYMMDDhhmmss")
    return start + end


def _card_fields(d: DataId) -> tuple[DataId, ...]:
    """The record's BCD register fields (purchase count, remaining, forward and reverse
    energy), named after the record so an error says which part of which record."""
    return (DataId(d.di, f"{d.name}: purchase count", Kind.NUMBER, 2),
            *(DataId(d.di, f"{d.name}: {what}", Kind.NUMBER, 4, 2)
              for what in ("remaining credit", "forward active energy",
                           "reverse active energy")))


def _encode_card_record(d: DataId, value: object) -> bytes:
    if not isinstance(value, AbnormalCardRecord):
        raise DataFormatError(f"{d}: expected an AbnormalCardRecord, not {value!r}")
    r = value
    at = r.at if r.at == _NO_TIME else _as_digits(d, r.at, "YYMMDDhhmmss")
    if at != _NO_TIME:
        _check_datetime_digits(d, at, "YYMMDDhhmmss")
    try:
        serial = bytes.fromhex(r.card_serial) if len(r.card_serial) == 16 else b""
    except (TypeError, ValueError):
        serial = b""
    if len(serial) != 8:
        raise DataFormatError(f"{d}: card serial {r.card_serial!r} is not 16 hex digits")
    if not isinstance(r.command_header, bytes) or len(r.command_header) != 5:
        raise DataFormatError(f"{d}: command header {r.command_header!r} is not 5 bytes")
    for name, v, top in (("error word", r.error, 0xFF),
                         ("response status", r.response_status, 0xFFFF)):
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= top:
            raise DataFormatError(f"{d}: {name} {v!r} is not an int 0..{top:X}H")
    values = (r.purchase_count, r.remaining, r.forward_energy, r.reverse_energy)
    registers = b"".join(_encode_number(f, v) for f, v in zip(_card_fields(d), values,
                                                               strict=True))
    return (_bcd_from_digits(at) + serial[::-1] + bytes([r.error]) + r.command_header[::-1]
            + r.response_status.to_bytes(2, "little") + registers)


def _decode_card_record(d: DataId, data: bytes) -> AbnormalCardRecord:
    if len(data) != d.length:
        raise DataFormatError(f"{d}: expected {d.length} bytes, got {len(data)}")
    at = _digits_from_bcd(data[0:6], str(d))
    if at != _NO_TIME:
        _check_datetime_digits(d, at, "YYMMDDhhmmss")
    # time 0-5, serial 6-13, error 14, header 15-19, SW 20-21, count 22-23, then 3 x 4 BCD
    count, remaining, forward, reverse = (
        _decode_number(f, data[start:start + f.length])
        for f, start in zip(_card_fields(d), (22, 24, 28, 32), strict=True))
    return AbnormalCardRecord(
        at=at, card_serial=data[6:14][::-1].hex().upper(), error=data[14],
        command_header=data[15:20][::-1],
        response_status=int.from_bytes(data[20:22], "little"), purchase_count=int(count),
        remaining=Decimal(remaining), forward_energy=Decimal(forward),
        reverse_energy=Decimal(reverse))


def to_date(text: str) -> dt.date:
    """``YYMMDD[WW]`` -> date (years 2000-2099, as meters store two digits)."""
    return dt.date(2000 + int(text[0:2]), int(text[2:4]), int(text[4:6]))


def to_time(text: str) -> dt.time:
    """``hhmmss`` -> time."""
    return dt.time(int(text[0:2]), int(text[2:4]), int(text[4:6]))


def to_datetime(text: str) -> dt.datetime:
    """``YYMMDDhhmmss`` -> naive datetime (meters keep local time)."""
    return dt.datetime.combine(to_date(text[:6]), to_time(text[6:12]))


def datetime_to_wire(moment: dt.datetime) -> bytes:
    """``ssmmhhDDMMYY`` wire bytes, as used by broadcast time and relay-command deadlines."""
    return _bcd_from_digits(moment.strftime("%y%m%d%H%M%S"))


def datetime_from_wire(raw: bytes) -> dt.datetime:
    text = _digits_from_bcd(raw, "date-time")
    try:
        return to_datetime(text)
    except ValueError as exc:
        raise DataFormatError(f"{text} is not a valid YYMMDDhhmmss ({exc})") from None
