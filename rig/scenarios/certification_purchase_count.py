"""Certification scenario of the State Grid purchase-count rule for a purchase two ahead.

Requirement (issue 25, "The purchase-count rule"; Q/GDW 1354-2013 Annex C, the cost-control
flow, as docs/card-formats/esam-cpu.md's behaviour table gives it): a purchase whose count is
two or more ahead of the meter's is not credited — the meter first writes its running
information to the card's return-write file (so the office sees where the meter stands), then
refuses the card with the purchase-count error — and the genuine next purchase is then
applied once. Under remote delivery the counterpart is a recharge two ahead, refused with
SERR bit 5 (recharge count error), credit unchanged.

The station's writer will not put a purchase two ahead on a card whose return-write record
shows the meter's count (its pending-purchase rule), so the lab re-issues the card first
(bound to another meter and back: its return-write file emptied), then writes the sold vend
with its count one higher: what an office that lost track of the meter would write. The
genuine purchase goes on the card the same way (the writer will not overwrite a purchase the
meter has not applied).
Applicable to the State Grid CPU card (a format with two key states, esam-cpu) and to remote
delivery; other formats keep their own sequence rules.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from rig.card_formats.interface import CardKind, key_revisions
from rig.meter.card_errors import CardErrorCode
from rig.scenarios.cert_base import commission, insert_refused, snapshot
from rig.scenarios.certification_key_state import credited
from rig.scenarios.remote_steps import RemoteSteps
from rig.scenarios.steps import BenchSteps

CREDIT = Decimal("10.00")


def _other_meter(meter_no: str) -> str:
    return ("99" if not meter_no.startswith("99") else "11") + meter_no[2:]


def _rebind(s: BenchSteps) -> None:
    """Re-issue the card for another meter and back: its return-write record is emptied."""
    for meter_no in (_other_meter(s.meter_no), s.meter_no):
        with s.bench.card_at_writer() as conn:
            s.station.personalise(conn, card_serial=s.card_serial, meter_no=meter_no,
                                  key_revision=s.bench.profile.card.key_revision,
                                  kind=CardKind.USER)


def _applies(s: BenchSteps) -> bool:
    if isinstance(s, RemoteSteps) or len(key_revisions(s.card_format)) == 2:
        return True
    with s.record.step("State Grid purchase-count rule"):
        s.record.measure("purchase two ahead", f"not applicable: card format "
                         f"{s.card_format.name!r} keeps its own sequence rule (this is the "
                         "State Grid CPU card's)")
    return False


def purchase_two_ahead_is_refused_after_the_return_write(s: BenchSteps) -> None:
    """A purchase two ahead of the meter's count: the running information written back, then
    refused with the purchase-count error and nothing credited; the genuine next purchase is
    then applied once and the centre's reconciliation balances.

    Certifies IEC 62055-31:2022 5.8.2, Annex A; Q/GDW 1354-2013 Annex C
    (rig.scenarios.cert_citations)."""
    commission(s)
    if not _applies(s):
        return
    with s.record.step("a purchase applied and read back"):
        first, delivery = s.buy(CREDIT)
        s.record.measure("card accepted", delivery.accepted, equals=True)
        s.settle()
    vend = s.vend(CREDIT)
    with s.record.step("a purchase two ahead of the meter's count"):
        _rebind(s)
        s.write_vend(replace(vend, sequence=vend.sequence + 1))
        before = snapshot(s)
        delivery = insert_refused(s, CardErrorCode.PURCHASE_COUNT_ERROR)
        s.record.measure("card refused", delivery.accepted, equals=False,
                         description=delivery.meter_message)
        s.record.measure("registers unchanged", snapshot(s) == before, equals=True)
        s.card_to_writer()
        readback = s.read_readback()  # a card with no return-write record: a CardError
        s.record.measure("return-write written: the meter's last purchase",
                         readback.fields["last_sequence"], equals=first.sequence)
        s.record.measure("return-write written: the meter's purchase count",
                         readback.fields["purchase_count"], equals=first.sequence)
    with s.record.step("the genuine next purchase is applied once"):
        _rebind(s)  # the writer will not overwrite a purchase the meter has not applied
        s.write_vend(vend)
        credited(s, vend)
        verdict = s.settle().reconciliation.verdict
        s.record.measure("reconciliation verdict", str(verdict), equals="balanced")
