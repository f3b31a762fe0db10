"""Unsigned fields and prices as the card formats' layouts store them.

The SLE 4442 and esam-cpu layouts both keep a price in 1/10000 of the money unit per kWh in
4 bytes and their counters as big-endian unsigned fields; one definition here keeps their
refusals (the record, the field and why) the same.
"""

from __future__ import annotations

from decimal import Decimal

from rig.card.apdu import RecordError

PRICE_SCALE = Decimal("0.0001")  # prices in 1/10000 of the money unit per kWh


def price_units(name: str, price: Decimal) -> int:
    """The price in units of PRICE_SCALE; RecordError unless a whole number within 4 bytes."""
    scaled = price / PRICE_SCALE
    if scaled != scaled.to_integral_value() or not 0 <= scaled <= 0xFFFFFFFF:
        raise RecordError(name, "price_per_kwh", f"{price} is not a whole number of "
                          f"{PRICE_SCALE} within 4 bytes")
    return int(scaled)


def unsigned(name: str, field: str, value: int, size: int) -> int:
    """`value` if it fits `size` unsigned bytes; RecordError naming the record and field."""
    if not 0 <= value < 1 << (8 * size):
        raise RecordError(name, field, f"{value} outside 0..{(1 << (8 * size)) - 1}")
    return value
