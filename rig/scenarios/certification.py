"""Certification scenarios: the requirements a prepaid meter model is certified against.

Each scenario is one requirement, runs alone on a fresh bench, records its measurements with
limits and raises AssertionError (through the record) when the meter falls short. The test
suite in rig/suites/certification runs every scenario for every meter profile.
"""

from __future__ import annotations

from decimal import Decimal

from rig.meter.card_errors import CardErrorCode
from rig.scenarios import (
    certification_billing,
    certification_card_timing,
    certification_credit,
    certification_key_state,
    certification_keys,
    certification_meter,
    certification_printer,
    certification_purchase_count,
    certification_security,
    certification_supply,
    expect,
)
from rig.scenarios.cert_base import (
    PRICE,
    Registers,
    clear_alarm2_trip,
    commission,
    energy_agrees,
    insert_refused,
    load_energy_wh,
    snapshot,
)
from rig.scenarios.reconcile_limits import measure_checks
from rig.scenarios.steps import BenchSteps

__all__ = ["PRICE", "SCENARIOS", "Registers", "commission", "snapshot"]


def buy_and_insert(s: BenchSteps, amount: Decimal = Decimal("30.00")) -> int:
    """Credit is applied exactly, and the receipt and the readback agree.

    Certifies IEC 62055-31:2022 5.8.1, 5.8.2, 5.4.1, Annex A; Q/GDW 1354-2013 Annex C
    (rig.scenarios.cert_citations).
    """
    commission(s)
    with s.record.step("buy and write card"):
        vend = s.vend(amount)
        s.write_vend(vend)
        credit = s.credit_of(vend)
        s.record.measure("receipt components sum to amount paid",
                         sum((line.amount for line in vend.receipt), Decimal(0)),
                         s.bench.profile.credit.currency, equals=vend.amount)
    with s.record.step("insert card into meter"):
        delivery = s.insert_into_meter()
        s.record.measure("meter display", delivery.meter_message)
        s.record.measure("remaining credit", s.meter.remaining(), s.unit, equals=credit)
        s.record.measure("relay closed", not s.meter.state().relay_open, equals=True)
    with s.record.step("readback agrees with receipt"):
        s.card_to_writer()
        readback = s.read_readback()
        s.record.measure("readback last sequence", readback.fields["last_sequence"],
                         equals=vend.sequence)
        s.record.measure("readback cumulative purchase", readback.fields["cumulative_purchase"],
                         equals=vend.credit)
        s.record.measure("readback remaining", readback.fields["remaining"], equals=vend.credit)
        s.record.measure("readback relay open", readback.fields["relay_open"], equals=False,
                         description="the relay was closed when the card collected it")
        result = s.upload_readback().reconciliation
        s.record.measure("reconciliation verdict", str(result.verdict), equals="balanced")
    return vend.sequence


def replayed_card_is_not_applied_twice(s: BenchSteps) -> None:
    """A card whose purchase the meter has applied adds nothing when inserted again.

    Certifies IEC 62055-31:2022 5.8.2, Annex A; Q/GDW 1354-2013 Annex C
    (rig.scenarios.cert_citations).
    """
    buy_and_insert(s)
    with s.record.step("insert the same card again"):
        before = snapshot(s)
        delivery = s.insert_into_meter()
        s.record.measure("meter display", delivery.meter_message)
        s.record.measure("applied sequence on replay", delivery.applied_sequence, equals=None)
        s.record.measure("remaining credit unchanged", snapshot(s).remaining, s.unit,
                         equals=before.remaining)


def card_for_another_meter_is_refused(s: BenchSteps) -> None:
    """A card bound to another meter is refused, changes no register, and the meter reports
    the refusal (meter number mismatch) over its protocol.

    Certifies IEC 62055-31:2022 5.8.2, 5.4.3, Annex A; Q/GDW 1354-2013 Annex C
    (rig.scenarios.cert_citations).
    """
    commission(s)
    with s.record.step("credit the card, then bind it to another meter"):
        vend = s.vend(Decimal("25.00"))
        s.write_vend(vend)
        other = "99" + s.meter_no[2:] if not s.meter_no.startswith("99") else "11" + \
            s.meter_no[2:]
        with s.bench.card_at_writer() as conn:
            s.station.personalise(conn, card_serial=s.card_serial, meter_no=other,
                                  key_revision=s.bench.profile.card.key_revision)
    with s.record.step("insert into the meter under test"):
        before = snapshot(s)
        delivery = insert_refused(s, CardErrorCode.METER_NUMBER_MISMATCH)
        s.record.measure("card refused", delivery.accepted, equals=False)
        s.record.measure("meter display", delivery.meter_message)
        s.record.measure("registers unchanged", snapshot(s) == before, equals=True)


def reconciliation_over_cycles(s: BenchSteps, cycles: int = 3,
                               power_w: Decimal = Decimal(3000)) -> None:
    """Several buy → consume → readback cycles stay balanced, and the energy the meter
    counted agrees with what the load itself measured, within the meter's accuracy class.

    Certifies IEC 62055-31:2022 5.4.1, 5.5, Annex A; IEC 62053-21
    (rig.scenarios.cert_citations).
    """
    p = s.bench.profile
    commission(s)
    load_wh = load_energy_wh(s)
    meter_wh = int(s.meter.energy_kwh() * 1000)
    for n in range(1, cycles + 1):
        amount = Decimal(5 * n) + Decimal("0.37")
        with s.record.step(f"cycle {n}: buy {amount}, consume part of it"):
            vend = s.vend(amount)
            s.write_vend(vend)
            s.insert_into_meter()
            clear_alarm2_trip(s)
            credit = s.credit_of(vend)
            target = (s.meter.remaining() - credit / 2).quantize(Decimal("0.01"))
            s.load_on(power_w)
            s.wait_for(lambda m, t=target: m.remaining <= t, f"cycle {n} consumption")
            s.load_off()
        with s.record.step(f"cycle {n}: readback and reconcile"):
            s.insert_into_meter()
            s.card_to_writer()
            uploaded = s.upload_readback()
            result = uploaded.reconciliation
            rb = uploaded.readback.fields
            s.record.measure(f"cycle {n} purchase count", rb["purchase_count"], equals=n)
            measure_checks(s.record, result.checks, f"cycle {n} ",
                           {"conservation": p.credit.currency if expect.money(p) else "Wh"})
            s.record.measure(f"cycle {n} verdict", str(result.verdict), equals="balanced")
            if load_wh is not None:
                load_now = load_energy_wh(s)
                assert load_now is not None
                energy_agrees(s, f"cycle {n}", rb["energy_wh"] - meter_wh,
                               load_now - load_wh)
                load_wh, meter_wh = load_now, rb["energy_wh"]


SCENARIOS = {
    "buy and insert": buy_and_insert,
    "replayed card is not applied twice": replayed_card_is_not_applied_twice,
    "card for another meter is refused": card_for_another_meter_is_refused,
    "reconciliation over several cycles": reconciliation_over_cycles,
    "alarms at predicted times": certification_credit.alarms_at_predicted_times,
    "cut-off and reconnection": certification_credit.cutoff_and_reconnection,
    "emergency credit": certification_credit.emergency_credit,
    "friendly period": certification_credit.friendly_period,
    "forged MAC is refused": certification_security.forged_mac_is_refused,
    "hoarding limit refusal": certification_security.hoarding_limit_refusal,
    "key change card moves the meter to the next key revision":
        certification_keys.key_change_card_moves_the_meter_to_the_next_key_revision,
    "key update moves the meter to the private key state":
        certification_key_state.key_update_moves_the_meter_to_the_private_key_state,
    "purchase two ahead is refused after the return write":
        certification_purchase_count.purchase_two_ahead_is_refused_after_the_return_write,
    "parameter card changes thresholds": certification_meter.parameter_card_changes_thresholds,
    "power-limit trip and recovery": certification_meter.power_limit_trip_and_recovery,
    "tariff change at its effective date": certification_billing.tariff_change_at_effective_date,
    "receipt printer": certification_printer.receipt_printer,
    "power failure during a card insertion":
        certification_supply.power_failure_during_a_card_insertion,
    "power failure during consumption": certification_supply.power_failure_during_consumption,
    "terminal cover opening is recorded": certification_supply.terminal_cover_opening_is_recorded,
    "unknown register is answered with an error":
        certification_meter.unknown_register_is_answered_with_an_error,
    "card session within 3 s": certification_card_timing.card_session_within_deadline,
}
