"""Readbacks and reconciliation: what a card brought back from its meter confirms the vends it
shows applied, and is compared with the ledger (:mod:`rig.billing.reconcile` decides the
verdict; a mismatch is stored for a supervisor, never dropped)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from rig.billing import models as m
from rig.billing import readback_check, watermark
from rig.billing.centre import lookup
from rig.billing.centre.errors import NotFound
from rig.billing.centre.rows import reconciliation_result
from rig.billing.centre.uow import UnitOfWork
from rig.billing.models import to_utc
from rig.billing.readback_keys import ReadbackKeyService
from rig.billing.reconcile import LedgerView, reconcile
from rig.billing.types import (
    ReadbackData,
    ReconciliationResult,
    VendStatus,
    Verdict,
)
from rig.billing.watermark import Applied, Watermark
from rig.credit_unit import CreditUnit


def readback_row(meter: m.Meter, d: ReadbackData, card_serial: str | None, raw: bytes | None,
                 now: datetime) -> m.Readback:
    return m.Readback(
        meter_id=meter.id, card_serial=card_serial, energy_wh=d.energy_wh,
        remaining=d.remaining, overdraft=d.overdraft, purchase_count=d.purchase_count,
        last_sequence=d.last_sequence, cumulative_purchase=d.cumulative_purchase,
        credit_unit=str(d.credit_unit), relay_open=d.relay_open, alarm_active=d.alarm_active,
        alarm_count=d.alarm_count, cutoff_count=d.cutoff_count, tamper_count=d.tamper_count,
        power_down_count=d.power_down_count, meter_timestamp=to_utc(d.timestamp),
        tariff_version=d.tariff_version, mac_verified=d.mac_verified,
        raw_hex=raw.hex() if raw is not None else None, received_at=now,
    )


class Readbacks:
    """Ingesting readbacks, confirming vends, and the reconciliation work queue."""

    def __init__(self, uow: UnitOfWork, keys: ReadbackKeyService | None) -> None:
        self.uow = uow
        # The key service that verifies readback MACs; None: every readback stays unverified.
        self.keys = keys

    def ingest_readback(
        self,
        data: ReadbackData | None = None,
        *,
        card_serial: str | None = None,
        raw: bytes | None = None,
    ) -> ReconciliationResult:
        """Store a readback, confirm the vends it shows applied, and reconcile the meter.

        ``raw`` is the record as the card holds it; the centre decodes it and verifies its MAC
        itself (``data``, if also given, must agree with it field by field; its
        ``mac_verified`` is ignored). Only a readback whose MAC the centre verified confirms
        vends and can reconcile as balanced; any other is stored as unverified.
        The readback and its reconciliation are stored even when they disagree with the
        ledger: a mismatch is an exception for a supervisor, never something to drop.
        ``card_serial``, when given, must be a card of the meter the readback names.
        """
        data, record = readback_check.decode(data, raw)
        with self.uow.transaction("ingest_readback") as s:
            meter = s.scalar(
                select(m.Meter).where(m.Meter.meter_no == data.meter_no).with_for_update())
            if meter is None:
                raise NotFound(f"readback names meter {data.meter_no}, which is not registered")
            mac = readback_check.verify_mac(record, self.keys, meter.key_revision)
            data = replace(data, mac_verified=mac.verified)
            now = self.uow.now()
            previous = s.scalar(select(m.Readback).where(m.Readback.meter_id == meter.id)
                                .order_by(m.Readback.id.desc()).limit(1))
            readback = readback_row(meter, data, card_serial, raw, now)
            s.add(readback)
            s.flush()
            start = watermark_of(s, meter.id)
            after_start = self._after(s, meter.id, start, data.last_sequence)
            confirmed = (self._confirm(s, after_start, readback.id, now)
                         if mac.verified else [])
            since = _unreversed(after_start)
            withdrawn = _withdrawn(s, meter.id, start, data.last_sequence)
            ledger = self._ledger_view(s, meter, start, since, withdrawn, data, previous,
                                       card_serial, now)
            outcome = reconcile(ledger, data)
            end = start
            if mac.verified:
                end = watermark.advanced(start, min(data.last_sequence, meter.last_sequence),
                                         since, readback.id)
                _store(s, meter.id, start, end)
            evidence = {**outcome.evidence, "confirmed_vend_ids": confirmed,
                        "mac": mac.evidence(self.keys),
                        "watermark": watermark.evidence(start, since, withdrawn, end)}
            rec = m.Reconciliation(
                meter_id=meter.id, readback_id=readback.id, verdict=outcome.verdict.value,
                expected_purchase=outcome.expected_purchase,
                actual_purchase=outcome.actual_purchase,
                expected_consumed=outcome.expected_consumed,
                actual_consumed=outcome.actual_consumed, evidence=evidence, created_at=now)
            s.add(rec)
            s.flush()
            self.uow.audit(s, "station", "readback.ingest", "readback", readback.id, None,
                           {"meter_no": meter.meter_no, "verdict": outcome.verdict.value,
                            "reconciliation_id": rec.id, "confirmed_vend_ids": confirmed,
                            "mac_verified": mac.verified})
            return ReconciliationResult(
                reconciliation_id=rec.id, readback_id=readback.id, meter_no=meter.meter_no,
                verdict=outcome.verdict, checks=outcome.checks, evidence=evidence,
                confirmed_vend_ids=tuple(confirmed), created_at=now)

    @staticmethod
    def _after(s: Session, meter_id: int, start: Watermark, last_sequence: int) -> list[m.Vend]:
        """The meter's vends after the watermark up to ``last_sequence``, in sequence order:
        the only ones a readback can confirm (every vend up to the watermark is settled)."""
        if last_sequence <= start.sequence:
            return []
        return list(s.scalars(select(m.Vend).where(
            m.Vend.meter_id == meter_id, m.Vend.sequence > start.sequence,
            m.Vend.sequence <= last_sequence).order_by(m.Vend.sequence)))

    def _confirm(self, s: Session, vends: Sequence[m.Vend], readback_id: int,
                 now: datetime) -> list[int]:
        """Confirm the unapplied ``vends`` (those a verified readback shows applied); their ids."""
        confirmed: list[int] = []
        for v in vends:
            if v.status in lookup.UNAPPLIED:
                v.status = VendStatus.CONFIRMED.value
                v.confirmed_at = now
                v.confirmed_by_readback_id = readback_id
                confirmed.append(v.id)
                self.uow.audit(s, "station", "vend.confirmed", "vend", v.id,
                               {"status": "unapplied"},
                               {"status": v.status, "readback_id": readback_id})
        return confirmed

    def _ledger_view(self, s: Session, meter: m.Meter, start: Watermark, since: Applied,
                     withdrawn: Applied, data: ReadbackData, previous: m.Readback | None,
                     card_serial: str | None, now: datetime) -> LedgerView:
        """What the ledger says the meter should show, for :func:`reconcile`."""
        price_tariff = (
            s.scalar(select(m.Tariff).where(m.Tariff.code == meter.tariff.code,
                                            m.Tariff.version == data.tariff_version))
            or lookup.tariff_in_effect(s, meter.tariff.code, now)
            or meter.tariff
        )
        card_meter_no = None
        if card_serial is not None:
            card = s.scalar(select(m.Card).where(m.Card.card_serial == card_serial))
            card_meter_no = card.meter.meter_no if card is not None else "(unknown card)"
        return LedgerView(
            meter_no=meter.meter_no, credit_unit=CreditUnit(meter.credit_unit),
            commissioning_energy_wh=meter.commissioning_energy_wh,
            last_issued_sequence=meter.last_sequence,
            price_per_kwh=price_tariff.price_per_kwh,
            price_tariff_version=price_tariff.version,
            previous_energy_wh=previous.energy_wh if previous is not None else None,
            watermark=start, applied_since=since, withdrawn=withdrawn,
            card_meter_no=card_meter_no,
        )

    def latest_reconciliation(self, meter_no: str) -> ReconciliationResult | None:
        with self.uow.transaction("latest_reconciliation") as s:
            meter = lookup.meter(s, meter_no)
            rec = s.scalar(select(m.Reconciliation).where(m.Reconciliation.meter_id == meter.id)
                           .order_by(m.Reconciliation.id.desc()).limit(1))
            return None if rec is None else reconciliation_result(rec, meter.meter_no)

    def reconciliation_exceptions(self) -> list[ReconciliationResult]:
        """Every stored mismatch, oldest first — the supervisor's work queue."""
        with self.uow.transaction("reconciliation_exceptions") as s:
            rows = s.execute(
                select(m.Reconciliation, m.Meter.meter_no)
                .join(m.Meter, m.Meter.id == m.Reconciliation.meter_id)
                .where(m.Reconciliation.verdict == Verdict.MISMATCH.value)
                .order_by(m.Reconciliation.id)
            ).all()
            return [reconciliation_result(rec, no) for rec, no in rows]


def watermark_of(s: Session, meter_id: int) -> Watermark:
    """The meter's stored watermark (no row: nothing settled yet)."""
    row = s.get(m.ReconciledWatermark, meter_id)
    if row is None:
        return Watermark()
    return Watermark(row.last_sequence, row.applied_credit, row.applied_count, row.readback_id)


def _store(s: Session, meter_id: int, start: Watermark, end: Watermark) -> None:
    if end == start:
        return
    assert end.readback_id is not None
    row = s.get(m.ReconciledWatermark, meter_id)
    if row is None:
        row = m.ReconciledWatermark(meter_id=meter_id)
        s.add(row)
    row.readback_id, row.last_sequence = end.readback_id, end.sequence
    row.applied_credit, row.applied_count = end.credit, end.count


def _unreversed(vends: Sequence[m.Vend]) -> Applied:
    return tuple((v.sequence, v.credit) for v in vends if v.status != VendStatus.REVERSED.value)


def _withdrawn(s: Session, meter_id: int, start: Watermark, last_sequence: int) -> Applied:
    """For a readback older than the watermark (a stale or replayed card record): the
    unreversed vends above its last sequence up to the watermark, which it does not show."""
    if last_sequence >= start.sequence:
        return ()
    return tuple((seq, credit) for seq, credit in s.execute(
        select(m.Vend.sequence, m.Vend.credit).where(
            m.Vend.meter_id == meter_id, m.Vend.sequence > max(last_sequence, 0),
            m.Vend.sequence <= start.sequence, m.Vend.status != VendStatus.REVERSED.value)
        .order_by(m.Vend.sequence)))
