"""Certification scenarios of what a meter must refuse: forged card data and purchases
beyond its hoarding limit (which the billing centre refuses first). A refusal must change no
register, write nothing back, and be reported by the meter over its protocol
(cert_base.insert_refused)."""

from __future__ import annotations

from decimal import Decimal

from rig.billing.centre.errors import VendRefused
from rig.meter.card_errors import CardErrorCode
from rig.scenarios import expect
from rig.scenarios.cert_base import (
    PRICE,
    commission,
    consumption_power,
    insert_refused,
    outside_friendly_periods,
    snapshot,
)
from rig.scenarios.steps import BenchSteps


def _first_purchase(s: BenchSteps, amount: Decimal) -> None:
    with s.record.step("a genuine purchase, applied and read back"):
        vend, delivery = s.buy(amount)
        s.record.measure("card accepted", delivery.accepted, equals=True)
        s.settle()
        del vend


FORGED_PURCHASE = "forged_purchase"  # the attack's name in CardFormat.attacks()


def forged_mac_is_refused(s: BenchSteps) -> None:
    """A purchase altered by a writer without the meter's secrets (ten times the credit) is
    refused; no register changes and no readback is written; the genuine purchase is then
    applied once. A card format whose meter cannot resist it (a memory card has no
    cryptography) is recorded as not applicable, with the format's reason.

    Certifies IEC 62055-31:2022 5.8.2, Annex A; Q/GDW 1354-2013 Annex C
    (rig.scenarios.cert_citations).
    """
    commission(s)
    _first_purchase(s, Decimal("10.00"))
    attack = s.attack(FORGED_PURCHASE)
    if attack is None or not attack.resisted:
        with s.record.step("forged purchase"):
            why = attack.why if attack is not None else "the card format does not list it"
            s.record.measure("forged purchase", f"not applicable: card format "
                             f"{s.card_format.name!r}: {why}")
        return
    vend = s.vend(Decimal("20.00"))
    s.write_vend(vend)
    genuine = s.read_purchase()
    assert genuine is not None
    readback = s.read_readback()
    with s.record.step("forged purchase: credit raised without the meter's secrets"):
        s.forge_purchase(genuine)
        before = snapshot(s)
        delivery = insert_refused(s, CardErrorCode.MAC_ERROR)
        s.record.measure("card refused", delivery.accepted, equals=False)
        s.record.measure("meter reason names the MAC", "MAC" in delivery.meter_message,
                         equals=True, description=delivery.meter_message)
        s.record.measure("registers unchanged", snapshot(s) == before, equals=True)
        s.card_to_writer()
        s.record.measure("no readback written", s.read_readback() == readback,
                         equals=True)
    with s.record.step("the genuine purchase restored is applied"):
        s.write_vend(vend)  # the same vend again, as after a torn write
        before = s.meter.remaining()
        delivery = s.insert_into_meter()
        s.record.measure("applied sequence", delivery.applied_sequence, equals=vend.sequence)
        s.record.measure("remaining credit", s.meter.remaining(), s.unit,
                         equals=before + s.credit_of(vend))
        verdict = s.settle().reconciliation.verdict
        s.record.measure("reconciliation verdict", str(verdict), equals="balanced")


def hoarding_limit_refusal(s: BenchSteps) -> None:
    """A purchase that would take the balance above the hoarding limit is refused twice over:
    by the billing centre before it is sold (nothing recorded, the meter's sequence untouched),
    and by the meter when such a purchase reaches it anyway — every register unchanged — which
    then accepts it once consumption has made room.

    To put an over-limit purchase on the card the lab lifts the centre's limit for that one vend
    (an audited administrator change, restored at once): what a centre that does not know the
    meter's limit would sell.

    Certifies IEC 62055-31:2022 5.8.2, Annex A (rig.scenarios.cert_citations).
    """
    p, t = s.bench.profile, s.bench.profile.thresholds
    limit, largest = t.hoarding_limit, s.billing.limits.maximum
    centre_limit = p.to_credit_units(limit)
    probe_amount = Decimal("2.00")
    probe = expect.amount_for(p, Decimal(0), PRICE, at_least=probe_amount)
    probe_credit = probe if expect.money(p) else (probe / PRICE).quantize(Decimal("0.001"))
    commission(s)
    with s.record.step("fill the meter to just below its hoarding limit"):
        s.record.measure("centre's hoarding limit", s.billing.meter(s.meter_no).hoarding_limit,
                         equals=centre_limit)
        purchases = 0
        while True:
            room = limit - s.meter.remaining()
            fill = room - probe_credit * 3 / 4  # leave less room than the probe needs
            if fill <= 0:
                break
            amount = min(largest, expect.amount_for(p, fill, PRICE, at_least=Decimal(0),
                                                    up=False))
            if amount < s.billing.limits.minimum:
                break
            vend, delivery = s.buy(amount)
            purchases += 1
            if not delivery.accepted:
                s.record.measure("filling purchase accepted", False, equals=True,
                                 description=delivery.meter_message)
                break
            s.settle()
        s.record.measure("purchases to fill", purchases)
        s.record.measure("room left below the hoarding limit", limit - s.meter.remaining(),
                         s.unit, high=probe_credit)
    with s.record.step("the billing centre refuses a purchase beyond the hoarding limit"):
        issued = s.billing.meter(s.meter_no).last_sequence
        try:
            refused = s.vend(probe_amount)
        except VendRefused as e:
            s.record.measure("centre refusal reason", e.reason, equals="hoarding_limit",
                             description=str(e))
            s.record.measure("refusal names the limit", f"hoarding limit of {centre_limit}"
                             in str(e), equals=True)
        else:
            s.record.measure("centre refused the purchase", False, equals=True,
                             description=f"vend {refused.vend_id} was sold")
        s.record.measure("sequence not advanced", s.billing.meter(s.meter_no).last_sequence,
                         equals=issued)
    with s.record.step("the meter refuses a purchase beyond the hoarding limit"):
        s.billing.set_hoarding_limit(s.meter_no, None)
        try:
            vend = s.vend(probe_amount)
        finally:
            s.billing.set_hoarding_limit(s.meter_no, centre_limit)
        s.write_vend(vend)
        before = snapshot(s)
        delivery = insert_refused(s, CardErrorCode.HOARDING_LIMIT_EXCEEDED)
        s.record.measure("card refused", delivery.accepted, equals=False)
        s.record.measure("meter reason", "hoarding" in delivery.meter_message, equals=True,
                         description=delivery.meter_message)
        s.record.measure("registers unchanged", snapshot(s) == before, equals=True)
    with s.record.step("accepted once consumption has made room"):
        credit = s.credit_of(vend)
        power = consumption_power(s)
        outside_friendly_periods(s, Decimal(1))
        s.load_on(power)
        # The register reads the balance rounded down to its resolution: the true balance can
        # be up to one step higher, so room is confirmed with that step to spare.
        step = p.credit.resolution
        s.watch(lambda m: m.remaining + step + credit <= limit, "room for the purchase")
        s.load_off()
        before = s.meter.remaining()
        delivery = s.insert_into_meter()
        s.record.measure("applied sequence", delivery.applied_sequence, equals=vend.sequence)
        after = s.meter.remaining()
        s.record.measure("remaining credit", after, s.unit, equals=before + credit)
        s.record.measure("balance within the hoarding limit", after, s.unit, high=limit)
        verdict = s.settle().reconciliation.verdict
        s.record.measure("reconciliation verdict", str(verdict), equals="balanced")
