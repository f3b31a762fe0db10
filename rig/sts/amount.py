"""The 16-bit amount field: a 2-bit exponent and a 14-bit mantissa (IEC 62055-41, 6.3.5).

The field counts whole steps of the token's resolution (0.1 kWh for electricity): exponent e
and mantissa m stand for m * 10**e + sum(2**14 * 10**(k - 1) for k in 1..e), so the ranges
join without overlap from 0 to 18 201 624 steps, exact below 16 384 and in steps of 10, 100
and 1000 above. A count between two representable values is rounded up to the next one, so
the customer never gets less than was paid for.
"""

from __future__ import annotations

from rig.sts.errors import StsError

MANTISSA_BITS = 14
MANTISSA_MAX = (1 << MANTISSA_BITS) - 1
# The first count of each exponent.
_OFFSETS = (0, 16_384, 180_224, 1_818_624)
MAX_COUNT = _OFFSETS[3] + MANTISSA_MAX * 1000  # 18 201 624


def count_of(field: int) -> int:
    """The number of resolution steps a 16-bit amount field stands for."""
    if not 0 <= field <= 0xFFFF:
        raise StsError(f"amount field {field:#x}: 16 bits")
    exponent, mantissa = field >> MANTISSA_BITS, field & MANTISSA_MAX
    return _OFFSETS[exponent] + mantissa * 10**exponent


def field_of(count: int) -> int:
    """The 16-bit field for `count` steps, rounded up to the next representable count."""
    if not 0 <= count <= MAX_COUNT:
        raise StsError(f"amount {count} steps: STS carries 0 to {MAX_COUNT}")
    exponent = max(e for e in range(4) if count >= _OFFSETS[e])
    step = 10**exponent
    mantissa = -(-(count - _OFFSETS[exponent]) // step)  # ceiling
    if mantissa > MANTISSA_MAX:
        exponent, mantissa = exponent + 1, 0
    return (exponent << MANTISSA_BITS) | mantissa


def representable(count: int) -> int:
    """The count a token for `count` steps actually carries."""
    return count_of(field_of(count))


def field_at_most(count: int) -> int:
    """The 16-bit field for the largest representable count not above `count`: what a sale
    carries, so a token never gives more than was paid for (the standard's own rounding,
    :func:`field_of`, rounds up)."""
    if count < 0:
        raise StsError(f"amount {count} steps: not negative")
    count = min(count, MAX_COUNT)
    exponent = max(e for e in range(4) if count >= _OFFSETS[e])
    mantissa = min((count - _OFFSETS[exponent]) // 10**exponent, MANTISSA_MAX)
    return (exponent << MANTISSA_BITS) | mantissa


def carried_at_most(count: int) -> int:
    """The largest count a token can carry that is not above `count`."""
    return count_of(field_at_most(count))
