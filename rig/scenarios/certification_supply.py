"""Certification scenarios of what happens to the meter around the card: supply failures (an
outage while the meter holds a card, and one while it supplies a load — a power failure must
neither lose nor double credit, and the meter resumes as it was) and its terminal cover (a
tamper event, recorded with or without supply).

Judged from the meter's registers, its readback and the billing centre's reconciliation,
never from the emulator: the same steps judge a real meter whose supply an operator switches.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any

from rig.scenarios import expect
from rig.scenarios.cert_base import (
    clear_alarm2_trip,
    commission,
    consumption_power,
    energy_agrees,
    load_energy_wh,
    measure_load_power,
    measure_no_current,
)
from rig.scenarios.meter_hands import (
    cover_close,
    cover_open,
    supply_cut_during_next_insertion,
    supply_off,
    supply_on,
)
from rig.scenarios.reconcile_limits import measure_checks
from rig.scenarios.steps import BenchSteps
from rig.sim.supply_cut import CUT_MOMENTS

OUTAGE = timedelta(hours=1)  # bench time the meter stays dark during consumption


def _reconciled(s: BenchSteps, label: str) -> Mapping[str, Any]:
    """Card to the writer, its readback uploaded: every reconciliation check and the verdict;
    the readback uploaded."""
    p = s.bench.profile
    s.card_to_writer()
    uploaded = s.upload_readback()
    result = uploaded.reconciliation
    measure_checks(s.record, result.checks, f"{label} ",
                   {"conservation": p.credit.currency if expect.money(p) else "Wh"})
    s.record.measure(f"{label} verdict", str(result.verdict), equals="balanced")
    return uploaded.readback.fields


def power_failure_during_a_card_insertion(s: BenchSteps,
                                          amount: Decimal = Decimal("10.00")) -> None:
    """A supply cut after the card check, during the credit transfer and during the readback
    write: after power-up the purchase is applied whole or not at all, and after the card is
    inserted again exactly once (no credit lost or doubled), the relay closed and the
    readback and the centre agree.

    Certifies IEC 62055-31:2022 7.2.2, 5.5, 5.8.2, Annex A; Q/GDW 1354-2013 Annex C
    (rig.scenarios.cert_citations).
    """
    commission(s)
    for moment in CUT_MOMENTS:
        with s.record.step(f"supply cut {moment}"):
            before = s.meter.remaining()
            vend = s.vend(amount)
            s.write_vend(vend)
            credit = s.credit_of(vend)
            supply_cut_during_next_insertion(s, moment)
            delivery = s.insert_into_meter(expect_accepted=False)
            s.record.measure("meter display", delivery.meter_message)
            supply_on(s)
            s.record.measure("remaining credit after power-up", s.meter.remaining(), s.unit,
                             low=before, high=before + credit,
                             description="the purchase applied whole or not at all")
        with s.record.step(f"card inserted again after the cut {moment}"):
            s.insert_into_meter()
            clear_alarm2_trip(s)
            s.record.measure("remaining credit", s.meter.remaining(), s.unit,
                             equals=before + credit,
                             description="the purchase applied exactly once")
            s.record.measure("relay closed", s.meter.state().relay_open, equals=False)
            s.card_to_writer()
            readback = s.read_readback()
            s.record.measure("readback last sequence", readback.fields["last_sequence"],
                             equals=vend.sequence)
            _reconciled(s, f"after the cut {moment}:")


def power_failure_during_consumption(s: BenchSteps, amount: Decimal = Decimal("30.00")) -> None:
    """The supply fails for a bench hour while the meter supplies the load: the load gets no
    current, the meter resumes with its relay closed and the load drawing again, and the
    credit it used is the cost of the energy it counted (the centre's conservation check),
    which agrees with the load's own energy register.

    Certifies IEC 62055-31:2022 7.2.2, 5.5, 3.5; IEC 62053-21 (rig.scenarios.cert_citations).
    """
    power = consumption_power(s)
    commission(s)
    with s.record.step("buy credit for many hours"):
        vend = s.vend(amount)
        s.write_vend(vend)
        s.insert_into_meter()
        clear_alarm2_trip(s)
        start = _reconciled(s, "after the purchase:")
    load_wh = load_energy_wh(s)
    with s.record.step("consume, then the supply fails"):
        s.load_on(power)
        measure_load_power(s, "load power drawn", power)
        s.wait_until(s.bench.now() + timedelta(hours=1))
        supply_off(s)
        measure_no_current(s, "load current while the meter has no supply")
        if s.bench.sim is not None:  # an operator's own pause is the outage on a real bench
            time.sleep(OUTAGE.total_seconds() / s.bench.clock.scale)
    with s.record.step("supply back"):
        supply_on(s)
        s.record.measure("relay closed after power-up", s.meter.state().relay_open,
                         equals=False)
        measure_load_power(s, "load power drawn after power-up", power)
        s.wait_until(s.bench.now() + timedelta(hours=1))
        s.load_off()
    with s.record.step("readback reconciles the outage"):
        s.insert_into_meter()
        end = _reconciled(s, "across the outage:")
        s.record.measure("power-downs counted", end["power_down_count"],
                         equals=start["power_down_count"] + 1)
        if load_wh is not None:
            load_now = load_energy_wh(s)
            assert load_now is not None
            energy_agrees(s, "consumption across the outage",
                          end["energy_wh"] - start["energy_wh"],
                          load_now - load_wh)


def terminal_cover_opening_is_recorded(s: BenchSteps) -> None:
    """Lifting the terminal cover is a tamper event the meter counts, with its supply on and
    also while it has none (the cover switch latches the opening; the meter records it at
    power-up).

    Certifies Q/GDW 1354-2013 clause 4 (rig.scenarios.cert_citations).
    """
    with s.record.step("cover lifted with the supply on"):
        before = s.meter.tamper_count()
        cover_open(s)
        s.record.measure("tamper events counted", s.meter.tamper_count(), equals=before + 1)
        cover_close(s)
    with s.record.step("cover lifted while the meter has no supply"):
        supply_off(s)
        cover_open(s)
        cover_close(s)
        supply_on(s)
        s.record.measure("tamper events counted after power-up", s.meter.tamper_count(),
                         equals=before + 2,
                         description="the opening in the dark recorded at power-up")
