"""ORM rows → the plain types callers get (:mod:`rig.billing.types`), in one place: rows never
leave a session, so callers cannot lazy-load or change the ledger outside a transaction."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import object_session

from rig.billing import models as m
from rig.billing.centre.lookup import pending_parameters
from rig.billing.types import (
    Band,
    Block,
    CardInfo,
    CardStatus,
    CashierSessionInfo,
    Check,
    CustomerInfo,
    DebtInfo,
    MeterInfo,
    MeterStatus,
    OperatorInfo,
    OperatorRole,
    ReceiptLine,
    ReconciliationResult,
    TariffInfo,
    Tax,
    VendKind,
    VendResult,
    VendStatus,
    Verdict,
)
from rig.credit_unit import CreditUnit


def session_info(x: m.CashierSession) -> CashierSessionInfo:
    return CashierSessionInfo(x.id, x.operator.name, x.station.code, x.status, x.opened_at,
                              x.closed_at, x.opening_float, x.counted_cash)


def customer_info(c: m.Customer) -> CustomerInfo:
    return CustomerInfo(c.id, c.name, c.account_no, c.address)


def operator_info(o: m.Operator) -> OperatorInfo:
    return OperatorInfo(o.id, o.name, OperatorRole(o.role))


def tariff_info(t: m.Tariff) -> TariffInfo:
    st = t.structure or {}
    return TariffInfo(
        t.id, t.code, t.version, t.price_per_kwh, t.effective_from,
        kind=t.kind,
        blocks=tuple(Block(b["up_to_wh"], Decimal(b["price_per_kwh"]))
                     for b in st.get("blocks", [])),
        bands=tuple(Band(b["name"], b["start_minute"], b["end_minute"],
                         Decimal(b["price_per_kwh"])) for b in st.get("bands", [])),
        utc_offset_minutes=st.get("utc_offset_minutes", 0),
        fixed_monthly=t.fixed_monthly,
        taxes=tuple(Tax(x["name"], Decimal(x["rate_percent"])) for x in t.taxes or []),
    )


def debt_info(d: m.Debt, meter_no: str) -> DebtInfo:
    return DebtInfo(d.id, meter_no, d.description, d.principal, d.outstanding,
                    d.recovery_percent, d.recovery_fixed)


def meter_info(x: m.Meter) -> MeterInfo:
    return MeterInfo(
        meter_id=x.id,
        meter_no=x.meter_no,
        customer_account=x.customer.account_no,
        profile=x.profile,
        credit_unit=CreditUnit(x.credit_unit),
        tariff_code=x.tariff.code,
        key_revision=x.key_revision,
        commissioning_energy_wh=x.commissioning_energy_wh,
        commissioned_at=x.commissioned_at,
        last_sequence=x.last_sequence,
        status=MeterStatus(x.status),
        hoarding_limit=x.hoarding_limit,
    )


def card_info(c: m.Card) -> CardInfo:
    return CardInfo(c.id, c.card_serial, c.meter.meter_no, c.card_type, CardStatus(c.status))


def parameters_of(vend: m.Vend) -> dict[str, Any] | None:
    """The parameters a vend carries to its meter, as its first answer gave them: those still
    queued while it is not written, then those marked written with it (a replay — a station
    rewriting a torn card — must write the same levels)."""
    s = object_session(vend)
    assert s is not None
    if vend.status == VendStatus.CREATED.value:
        return pending_parameters(s, vend.meter_id)
    merged: dict[str, Any] = {}
    for change in s.scalars(select(m.ParameterChange).where(
            m.ParameterChange.vend_id == vend.id).order_by(m.ParameterChange.id)):
        merged.update(change.params)
    return merged or None


def vend_result(v: m.Vend, parameters: dict[str, Any] | None = None) -> VendResult:
    """The vend as the station and the receipt see it; a token sale (no card) with its
    token, read from ``sts_tokens`` so a reprint prints the very digits first printed."""
    token = None
    session = object_session(v)
    if v.card_id is None and session is not None:
        token = session.scalar(select(m.StsToken.digits).where(m.StsToken.vend_id == v.id))
    return VendResult(
        vend_id=v.id,
        request_id=v.request_id,
        meter_no=v.meter.meter_no,
        card_serial=v.card.card_serial if v.card is not None else "",
        sequence=v.sequence,
        credit=v.credit,
        credit_unit=CreditUnit(v.credit_unit),
        amount=v.amount,
        tariff_code=v.tariff.code,
        tariff_version=v.tariff_version,
        price_per_kwh=v.price_per_kwh,
        key_revision=v.key_revision,
        receipt=tuple(
            ReceiptLine(r["label"], Decimal(r["amount"]), r.get("detail", "")) for r in v.receipt
        ),
        status=VendStatus(v.status),
        station=v.station.code,
        operator=v.operator.name,
        created_at=v.created_at,
        kind=VendKind(v.kind),
        parameters=parameters,
        reprint_count=v.reprint_count,
        tender=v.tender,
        token=token,
    )


def reconciliation_result(rec: m.Reconciliation, meter_no: str) -> ReconciliationResult:
    ev = rec.evidence
    checks = tuple(
        Check(c["name"], c["expected"], c["actual"], c["tolerance"], c["passed"])
        for c in ev.get("checks", [])
    )
    return ReconciliationResult(
        reconciliation_id=rec.id,
        readback_id=rec.readback_id,
        meter_no=meter_no,
        verdict=Verdict(rec.verdict),
        checks=checks,
        evidence=ev,
        confirmed_vend_ids=tuple(ev.get("confirmed_vend_ids", [])),
        created_at=rec.created_at,
    )
