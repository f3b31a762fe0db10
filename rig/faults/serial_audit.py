"""Which corrupted DL/T 645 frames got past the checksum?

The frame checksum is a byte sum mod 256: it catches every single-bit error and every error
burst that changes the sum, but two flips that cancel (bit k set in one byte and cleared in
another; bit 7 flipped in two bytes; a data bit and the same bit of CS) pass. The proxy
records what each side sent and what the other side received; comparing the two streams
frame by frame counts what the checksum let through, so that figure is measured, not assumed.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from rig.bench.serial_proxy import LineNoise, SerialFaults
from rig.meter.dlt645 import data_ids as di
from rig.meter.dlt645.frame import Frame, FrameParser, encode_frame


def frames_in(stream: bytes) -> list[Frame]:
    """Every frame with a valid checksum in `stream` (garbage and broken frames skipped)."""
    return FrameParser().feed(stream)


@dataclass(frozen=True)
class Forgeries:
    """Frames delivered that no side sent, and those a client's checks would take as a value.

    `value_forged`: the forged frame keeps the address, control code and data identifier
    of a frame that was sent, so only its value differs — the DL/T 645 client's reply checks
    (address, function code, DI echo) cannot tell it from a genuine reply.
    """

    forged: list[Frame]
    value_forged: list[Frame]


def forgeries(sent: bytes, delivered: bytes) -> Forgeries:
    """Compare one direction of the line: `sent` by one side, `delivered` to the other."""
    genuine = frames_in(sent)
    extra = Counter(frames_in(delivered)) - Counter(genuine)
    forged = list(extra.elements())
    heads = {(f.address, f.control, f.data[:4]) for f in genuine}
    value_forged = [f for f in forged if (f.address, f.control, f.data[:4]) in heads]
    return Forgeries(forged, value_forged)


# Registers a prepaid cycle polls, with a value generator each (plain values, as the meter
# encodes them).
_POLLED: list[tuple[int, Callable[[random.Random], object]]] = [
    (di.REMAINING_AMOUNT, lambda r: Decimal(r.randrange(0, 10**8)).scaleb(-2)),
    (di.OVERDRAFT_AMOUNT, lambda r: Decimal(r.randrange(0, 10**5)).scaleb(-2)),
    (di.COMBINED_ACTIVE_TOTAL, lambda r: Decimal(r.randrange(0, 10**7)).scaleb(-2)),
    (di.STATUS_WORD_3, lambda r: r.choice([0x0000, 0x0050, 0x0090, 0x0180])),
]


@dataclass(frozen=True)
class EscapeFigures:
    """Replies corrupted on the line, and how far a corrupted one got."""

    replies: int
    corrupted: int  # replies with at least one byte changed
    passed_checksum: int  # ... that still framed and summed correctly
    value_forged: int  # ... with address, control and DI intact: only the value changed
    value_accepted: int  # ... that the value decoder (BCD, length) also took


def checksum_escapes(replies: int, faults: SerialFaults,
                     address: str = "000000001001") -> EscapeFigures:
    """Send `replies` meter replies through `faults` (no bench: the line model alone).

    Measures what the client-side checks catch on their own: frame structure and checksum,
    then address/control/DI, then the value format. What is left would be taken as a value
    by a single read; the rig's defence against it is a second read (docs/faults.md).
    """
    rng = random.Random(faults.seed)
    noise = LineNoise(faults)
    corrupted = passed = forged = accepted = 0
    for _ in range(replies):
        data_id, make = rng.choice(_POLLED)
        value = di.encode_value(data_id, make(rng))
        genuine = Frame(address, 0x91, di.di_to_bytes(data_id) + value)
        raw = encode_frame(genuine)
        wire, _ = noise.mangle(raw, "to_rig")
        if wire == raw:
            continue
        corrupted += 1
        for frame in frames_in(wire):
            if frame == genuine:
                continue
            passed += 1
            if frame.address != address or frame.control != 0x91 or \
                    frame.data[:4] != genuine.data[:4]:
                continue
            forged += 1
            try:
                di.decode_value(data_id, frame.data[4:])
            except di.DataFormatError:
                continue
            accepted += 1
    return EscapeFigures(replies, corrupted, passed, forged, accepted)
