"""The emulated meter's card slot: one card session with the world held still, a supply cut
inside it, and what a refused card leaves in the meter's log (the abnormal card insertion
records DL/T 645 reads back)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from rig.card.session import ApduTransport
from rig.card_formats.interface import CardRefusal, InsertionOutcome
from rig.meter.card_errors import ILLEGAL
from rig.meter.dlt645 import data_ids as di
from rig.sim.meter_registers import two_dp
from rig.sim.supply_cut import CuttingTransport, SupplyCut

if TYPE_CHECKING:
    from rig.sim.meter_firmware import EmulatedMeter


class PowerFailure(Exception):
    """The meter's supply failed in the middle of an operation (raised by a test's transport
    or by a power-down during a card session); the firmware saves its registers and stops."""


def card_session(meter: EmulatedMeter, transport: ApduTransport) -> InsertionOutcome:
    """A card was inserted: run the card terminal with the world held still.

    An accepted card of this meter also clears an alarm-2 relay trip (the customer has
    seen the warning); a refused card changes nothing.
    """
    with meter.world.lock:
        if not meter.powered:
            return InsertionOutcome(False, None, "meter has no supply: card not read")
        meter.world.advance()
        now = meter.world.clock.now()
        engine = meter.engine
        before = (engine.remaining, engine.cumulative_purchase)
        cut, meter.armed_cut = meter.armed_cut, None
        if cut is not None:
            transport = CuttingTransport(transport, cut)
        try:
            outcome = meter.terminal.insert(transport, now)
        except (PowerFailure, SupplyCut) as e:
            meter.power_down()
            return InsertionOutcome(False, None, f"power failed during the card session "
                                                 f"({e})")
        log = meter.log
        if outcome.accepted:
            engine.card_inserted(now)
        else:
            log.card_refusals += 1
            log.last_card_refusal = now
            if outcome.refusal is not None:
                record_abnormal_card(meter, outcome.refusal, now)
        if outcome.applied_sequence is not None:
            log.last_purchase_at = now
            log.last_purchase_amount = engine.cumulative_purchase - before[1]
            log.remaining_before_purchase = before[0]
            log.remaining_after_purchase = engine.remaining
        return outcome


def record_abnormal_card(meter: EmulatedMeter, refusal: CardRefusal, now: datetime) -> None:
    """The abnormal card insertion record: the refusal and the registers it left as they
    were, on the meter clock; the ten newest are kept."""
    e = meter.engine
    record = di.AbnormalCardRecord(
        at=meter.on_meter_clock(now).strftime("%y%m%d%H%M%S"),
        card_serial=refusal.card_serial, error=int(refusal.code),
        command_header=refusal.command_header, response_status=refusal.status_word,
        purchase_count=e.purchase_count, remaining=two_dp(e.remaining),
        forward_energy=two_dp(e.energy_kwh), reverse_energy=Decimal(0))
    log = meter.log
    log.abnormal_cards = (record, *log.abnormal_cards)[:di.ABNORMAL_CARD_RECORDS]
    if refusal.code in ILLEGAL:
        log.illegal_card_refusals += 1
