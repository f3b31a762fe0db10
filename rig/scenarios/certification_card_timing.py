"""Certification: a card read/write completes within the specification's deadline (3 s).

State Grid–style specifications give a card insertion 3 s to complete; a customer who pulls
the card earlier gets "card pulled out early". The scenario times, on any bench and for any
card format: the vending station's write of a vend (through the bench's real card writer),
the meter's card session (its own APDU exchanges where the bench records them: an in-process
emulated meter's slot; else the courier's move on an actuator or the emulated control
channel, an upper bound; an operator's move is not a measurement and is recorded as such) and
the station's read of the readback. Wall time throughout: a card session runs at wall speed
whatever the bench clock's scale.
"""

from __future__ import annotations

import time
from decimal import Decimal

from rig.bench.courier import PromptCourier
from rig.scenarios.cert_base import commission
from rig.scenarios.steps import BenchSteps

DEADLINE_S = Decimal(3)
BASIS = "the card insertion deadline of State Grid–style specifications (3 s)"


def _seconds(started: float) -> Decimal:
    return Decimal(f"{time.monotonic() - started:.3f}")


def _meter_span(s: BenchSteps, first: int) -> Decimal | None:
    """The meter's card session as its slot's APDU exchanges from trace entry ``first`` on
    span it (first command sent to last answer), None if the bench does not record them."""
    trace = s.bench.apdu_trace
    entries = [e for e in trace.entries[first:] if e.terminal == "meter"] if trace else []
    if not entries:
        return None
    last = entries[-1]
    return Decimal(f"{last.t + last.duration - entries[0].t:.3f}")


def card_session_within_deadline(s: BenchSteps) -> None:
    """The station's write, the meter's session and the readback read each within 3 s.

    Certifies IEC 62055-31:2022 5.8.2; Q/GDW 1354-2013 Annex C (rig.scenarios.cert_citations).
    """
    commission(s)
    with s.record.step("write a vend at the vending station"):
        vend = s.vend(Decimal("30.00"))
        started = time.monotonic()
        s.write_vend(vend)
        s.record.measure("card write at the vending station", _seconds(started), "s",
                         high=DEADLINE_S, basis=BASIS)
    with s.record.step("card session in the meter"):
        trace = s.bench.apdu_trace
        first = len(trace.entries) if trace is not None else 0
        started = time.monotonic()
        delivery = s.insert_into_meter()
        moved = _seconds(started)
        s.record.measure("meter display", delivery.meter_message)
        span = _meter_span(s, first)
        if span is not None:
            s.record.measure("card session in the meter (its APDU exchanges)", span, "s",
                             high=DEADLINE_S, basis=BASIS)
        elif isinstance(s.bench.courier, PromptCourier):
            s.record.measure("card session in the meter",
                             "not measured: an operator carries the card, and the bench "
                             "records no meter-side exchanges")
        else:
            s.record.measure("card session in the meter (courier move, an upper bound)",
                             moved, "s", high=DEADLINE_S, basis=BASIS)
    with s.record.step("read the readback at the vending station"):
        s.card_to_writer()
        started = time.monotonic()
        s.read_readback()
        s.record.measure("readback read at the vending station", _seconds(started), "s",
                         high=DEADLINE_S, basis=BASIS)
