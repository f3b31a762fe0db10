"""A keypad meter's readback: its registers read over its serial port by the station (no card
carries them back), reconciled with the tokens the centre sold it.

Beside :mod:`rig.billing.centre.readbacks` (card readbacks, verified by their MAC), not inside
it: a serial readback carries **no MAC**, so nothing vouches that the station read what the
meter said. It is stored as received (``mac_verified`` false, like any readback the centre
could not verify) with a ``readback_sources`` row saying where it came from, and its
reconciliation replaces the ``mac_verified`` check by ``readback_source``, which records
"serial: not MAC-protected" (a statement of trust, not a test): the verdict says whether the
figures agree with the ledger, never that the meter wrote them. A keypad meter counts the
tokens it accepted (purchase count) but not which: the vends it shows applied are taken to be
its first ``purchase_count`` token sales in the order sold (a meter accepts tokens in any
order; an older token typed late still counts once, and the total is compared exactly).
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select

from rig.billing import models as m
from rig.billing.centre import lookup
from rig.billing.centre.errors import NotFound
from rig.billing.centre.readbacks import readback_row
from rig.billing.centre.rows import reconciliation_result
from rig.billing.centre.uow import UnitOfWork
from rig.billing.reconcile import LedgerView, reconcile
from rig.billing.types import (
    Check,
    CreditUnit,
    ReadbackData,
    ReconciliationResult,
    VendStatus,
    Verdict,
)
from rig.billing.watermark import Watermark
from rig.errors import BillingError

SOURCE = "serial"
TRUST = "serial: not MAC-protected"  # what the readback_source check records
NOTE = ("read over the meter's serial port by the station: not MAC-protected, so it proves "
        "only what the station reported")


class SerialReadbacks:
    """Ingests keypad meters' serial readbacks and reconciles them."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def ingest(self, data: ReadbackData, *, station: str) -> ReconciliationResult:
        """Store ``data`` (``mac_verified`` forced false), confirm the token vends it shows
        applied and reconcile; a card meter's readback is refused (it comes on its card)."""
        with self.uow.transaction("ingest_serial_readback") as s:
            meter = s.scalar(select(m.Meter).where(m.Meter.meter_no == data.meter_no)
                             .with_for_update())
            if meter is None:
                raise NotFound(f"readback names meter {data.meter_no}, which is not registered")
            if s.get(m.StsMeter, meter.id) is None:
                raise BillingError(f"meter {data.meter_no} takes cards: its readback comes on "
                                   "its card, MAC'd (POST /readbacks), not over the serial port")
            data = replace(data, mac_verified=False)
            now = self.uow.now()
            previous = s.scalar(select(m.Readback).where(m.Readback.meter_id == meter.id)
                                .order_by(m.Readback.id.desc()).limit(1))
            sold = [v for v in s.scalars(select(m.Vend).where(
                m.Vend.meter_id == meter.id, m.Vend.card_id.is_(None))
                .order_by(m.Vend.sequence)) if v.status != VendStatus.REVERSED.value]
            applied = sold[:max(data.purchase_count, 0)]
            last = applied[-1].sequence if applied else 0
            data = replace(data, last_sequence=last)
            readback = readback_row(meter, data, None, None, now)
            s.add(readback)
            s.flush()
            s.add(m.ReadbackSource(readback_id=readback.id, source=SOURCE, mac_protected=False,
                                   note=f"station {station}: {NOTE}"))
            tariff = lookup.tariff_in_effect(s, meter.tariff.code, now) or meter.tariff
            outcome = reconcile(LedgerView(
                meter_no=meter.meter_no, credit_unit=CreditUnit(meter.credit_unit),
                commissioning_energy_wh=meter.commissioning_energy_wh,
                last_issued_sequence=meter.last_sequence, price_per_kwh=tariff.price_per_kwh,
                price_tariff_version=tariff.version,
                previous_energy_wh=previous.energy_wh if previous is not None else None,
                # A serial readback settles nothing (no MAC): a keypad meter's watermark stays
                # at its start and its token sales are counted from the first.
                watermark=Watermark(),
                applied_since=tuple((v.sequence, v.credit) for v in applied)), data)
            source = Check("readback_source", TRUST, TRUST, 0, True)  # the trust level, said
            checks = tuple(source if c.name == "mac_verified" else c for c in outcome.checks)
            failed = [c.name for c in checks if not c.passed]
            verdict = Verdict.MISMATCH if failed else Verdict.BALANCED
            confirmed = []
            for v in applied:
                if v.status in lookup.UNAPPLIED:
                    v.status, v.confirmed_at = VendStatus.CONFIRMED.value, now
                    v.confirmed_by_readback_id = readback.id
                    confirmed.append(v.id)
                    self.uow.audit(s, "station", "vend.confirmed", "vend", v.id,
                                   {"status": "unapplied"},
                                   {"status": v.status, "readback_id": readback.id,
                                    "source": SOURCE})
            evidence = {**outcome.evidence, "verdict": verdict.value, "failed": failed,
                        "checks": [c for c in outcome.evidence["checks"]
                                   if c["name"] != "mac_verified"]
                        + [{"name": "readback_source", "expected": TRUST, "actual": TRUST,
                            "tolerance": 0, "passed": True}],
                        "confirmed_vend_ids": confirmed,
                        "source": {"kind": SOURCE, "station": station,
                                   "mac_protected": False, "note": NOTE},
                        "mac": {"verified_by_centre": False,
                                "reason": "a serial readback carries no MAC"}}
            figures = ("expected_purchase", "actual_purchase", "expected_consumed",
                       "actual_consumed")
            rec = m.Reconciliation(meter_id=meter.id, readback_id=readback.id,
                                   verdict=verdict.value, evidence=evidence, created_at=now,
                                   **{f: getattr(outcome, f) for f in figures})
            s.add(rec)
            s.flush()
            self.uow.audit(s, "station", "readback.ingest", "readback", readback.id, None,
                           {"meter_no": meter.meter_no, "verdict": verdict.value,
                            "reconciliation_id": rec.id, "confirmed_vend_ids": confirmed,
                            "mac_verified": False, "source": SOURCE, "station": station})
            return reconciliation_result(rec, meter.meter_no)
