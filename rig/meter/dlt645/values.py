"""DL/T 645-2007 value codec: a value in a data identifier's format to plain data bytes and
back (BCD least significant byte first, signed magnitudes, dates and times in the standard's
digit notation, event and abnormal card records)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from rig.meter.dlt645.data_types import (
    NO_TIME,
    AbnormalCardRecord,
    DataFormatError,
    DataId,
    Kind,
    Value,
    to_date,
    to_datetime,
    to_time,
)

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


def encode(d: DataId, value: object) -> bytes:
    """Plain data bytes (no DI, no +33H) for ``value`` in the format of ``d``."""
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


def decode(d: DataId, data: bytes) -> Value:
    """Decode plain data bytes in the format of ``d`` (rig.meter.dlt645.data_ids says what
    each kind decodes to)."""
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


_NOT_ENDED = NO_TIME


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
    at = r.at if r.at == NO_TIME else _as_digits(d, r.at, "YYMMDDhhmmss")
    if at != NO_TIME:
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
    if at != NO_TIME:
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


def datetime_to_wire(moment: dt.datetime) -> bytes:
    """``ssmmhhDDMMYY`` wire bytes, as used by broadcast time and relay-command deadlines."""
    return _bcd_from_digits(moment.strftime("%y%m%d%H%M%S"))


def datetime_from_wire(raw: bytes) -> dt.datetime:
    text = _digits_from_bcd(raw, "date-time")
    try:
        return to_datetime(text)
    except ValueError as exc:
        raise DataFormatError(f"{text} is not a valid YYMMDDhhmmss ({exc})") from None
