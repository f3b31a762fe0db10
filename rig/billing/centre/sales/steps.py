"""One sale, step by step, in the caller's transaction: read what the checks need, refuse what
cannot be sold, price it, then record it.

The hot path of the centre, kept lean: one locked read of everything the checks need
(:mod:`.context`), the tariff version from a per-centre cache (versions are append-only),
then three writes (meter, vend, audit; an STS meter's token adds its TID and the token) with
Core statements, and the result built from the values written rather than read back. Rare
parts (debts, agents, queued parameters) use the ORM (``db.session``) only when the context
says they exist. A price quote runs the same steps up to :func:`price` and records nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import bindparam, insert, select, update

from rig.billing import agents, audit, hoarding, inputs
from rig.billing import models as m
from rig.billing.canonical_json import canonical_json
from rig.billing.centre.errors import VendRefused
from rig.billing.centre.hoarding_check import refuse_over
from rig.billing.centre.lookup import committed_meanwhile, pending_parameters
from rig.billing.centre.rows import debt_info
from rig.billing.centre.sales import context
from rig.billing.centre.sales.sale_db import SaleDb
from rig.billing.centre.sts_amounts import WH_PER_STEP, carried, cents_per_step
from rig.billing.tariffs import CENT, TariffError, price_vend
from rig.billing.types import (
    CreditUnit,
    MeterStatus,
    Pricing,
    TariffInfo,
    VendKind,
    VendLimits,
    VendResult,
    VendStatus,
)
from rig.credit_unit import CREDIT_UNITS

LOCK_METER = select(m.Meter.id).where(m.Meter.meter_no == bindparam("meter_no")) \
    .with_for_update()
ADVANCE_METER = update(m.Meter).where(m.Meter.id == bindparam("meter_id")).values(
    last_sequence=bindparam("sequence"), change_balance=bindparam("change"))
_VEND_COLUMNS = (
    "request_id", "meter_id", "card_id", "station_id", "operator_id", "tariff_id", "amount",
    "credit", "credit_unit", "sequence", "tariff_version", "price_per_kwh", "key_revision",
    "receipt", "status", "created_at", "kind", "energy_charge", "tax_total", "fixed_charge",
    "debt_recovered", "change_in", "change_out", "tender", "session_id", "reprint_count",
    "reason")
# The receipt lines go in as their canonical JSON text (written once, in C mostly), not as a
# list of dicts for the JSON type to dump.
INSERT_VEND = insert(m.Vend).values(
    {c: bindparam(c, type_=m.JsonText()) if c == "receipt" else bindparam(c)
     for c in _VEND_COLUMNS}).returning(m.Vend.id)
# Enum values read on every sale, once here (an enum's ``.value`` is a property call).
_ACTIVE, _CREATED, _SALE = MeterStatus.ACTIVE.value, VendStatus.CREATED.value, VendKind.SALE.value
_ENERGY_WH = CreditUnit.ENERGY_WH.value
_NONE = Decimal(0)
AuditFn = Callable[..., None]  # UnitOfWork.audit: queue an event in the sale's session
# Makes an STS meter's credit token in the sale's transaction: (db, sale, vend id) → its digits
# and its audit event (shaped).
TokenFn = Callable[..., tuple[str, dict[str, Any]]]


class SaleRequest(NamedTuple):
    """What the station asks to sell (immutable: named tuples, these two, made on every sale
    in a fraction of a frozen dataclass's time)."""

    meter_no: str
    amount: Decimal
    request_id: str
    station: str
    operator: str
    tender: str = "cash"
    require_session: bool = False


class PricedSale(NamedTuple):
    """A sale that passed every check and is priced: everything :func:`record` writes."""

    request: SaleRequest
    ctx: context.VendContext
    tariff: TariffInfo
    pricing: Pricing
    debts: tuple[m.Debt, ...]
    agent: m.Agent | None
    now: datetime


def check_amount(amount: Decimal, limits: VendLimits) -> None:
    """Refuse an amount the centre does not sell (a vend and a quote alike)."""
    if not amount.is_finite():
        raise VendRefused("amount_invalid", f"amount {amount} is not a finite number")
    if amount > limits.maximum:  # before quantize(), which 1E+999 would overflow
        raise VendRefused(
            "amount_above_maximum", f"amount {amount} is above the maximum {limits.maximum}")
    if amount <= 0:
        raise VendRefused("amount_not_positive", f"amount {amount} must be greater than 0")
    if amount != amount.quantize(CENT):
        raise VendRefused("amount_invalid", f"amount {amount} has fractions of a cent")
    if amount < limits.minimum:
        raise VendRefused(
            "amount_below_minimum", f"amount {amount} is below the minimum {limits.minimum}")


def exact_amount(amount: object) -> Decimal:
    """The amount as a Decimal; a float (or anything else) is refused before any lookup."""
    if type(amount) is Decimal:
        return amount
    if not isinstance(amount, Decimal | int) or isinstance(amount, bool):
        raise VendRefused(
            "amount_invalid", f"amount must be a Decimal, got {type(amount).__name__}")
    return Decimal(amount)


def read_context(db: SaleDb, req: SaleRequest, now: datetime, *, postgres: bool,
                 lock: bool) -> context.VendContext | None:
    """Everything the checks need, in one read; ``lock``: on PostgreSQL lock the meter row
    first, so two stations cannot take the same sequence (SQLite: BEGIN IMMEDIATE has
    serialised the transaction already)."""
    if postgres and lock:
        db.execute(LOCK_METER, {"meter_no": req.meter_no})
    return context.fetch(
        db.one, meter_no=req.meter_no, request_id=req.request_id, station=req.station,
        operator=req.operator, now=now, month_start=_month_start(now),
        with_audit_head=lock and not postgres)


def refuse_unsellable(db: SaleDb, req: SaleRequest, ctx: context.VendContext,
                      limits: VendLimits) -> None:
    """The refusals that need no price, in the order an operator fixes them."""
    if (req.require_session and ctx.session_id is None and ctx.station_id is not None
            and ctx.operator_id is not None):  # who may sell here, before what is sold
        raise VendRefused(
            "no_open_session",
            f"operator {req.operator!r} has no cashier session open at station "
            f"{req.station!r}: open one there (count the float) before selling")
    check_amount(req.amount, limits)
    if ctx.status != _ACTIVE:
        raise VendRefused("meter_blocked", f"meter {req.meter_no} is blocked")
    if ctx.card_id is None and not ctx.is_sts:
        raise VendRefused("no_active_card", f"meter {req.meter_no} has no active card")
    if ctx.pending_sequence is not None and not ctx.is_sts:  # tokens need no card trip
        pending = db.session.scalar(select(m.Vend).where(
            m.Vend.meter_id == ctx.meter_id, m.Vend.sequence == ctx.pending_sequence))
        assert pending is not None
        raise VendRefused(
            "unapplied_purchase",
            f"card {ctx.card_serial} still carries purchase #{pending.sequence} "
            f"({pending.status}, request {pending.request_id}); insert it in meter "
            f"{req.meter_no} and read it back before selling again",
        )
    if ctx.station_id is None:
        raise VendRefused("unknown_station", f"station {req.station!r} is not registered")
    if ctx.operator_id is None:
        raise VendRefused("unknown_operator", f"operator {req.operator!r} is not registered")
    if ctx.tariff_id is None:
        raise VendRefused(
            "no_tariff_in_effect", f"tariff {ctx.tariff_code} has no version in effect")


def price(db: SaleDb, req: SaleRequest, ctx: context.VendContext, tariff: TariffInfo,
          now: datetime, *, lock: bool) -> PricedSale:
    """Price the sale (fixed charge due, debts to recover, change) and refuse what the price
    makes unsellable: no credit, more than a card holds, over the hoarding limit, beyond the
    agent's float. ``lock``: lock the agent's row (a quote locks nothing)."""
    fixed_sold = Decimal(0)
    if tariff.fixed_monthly > 0:
        fixed_sold = sum(db.session.scalars(select(m.Vend.fixed_charge).where(
            m.Vend.meter_id == ctx.meter_id, m.Vend.created_at >= _month_start(now),
            m.Vend.status != VendStatus.REVERSED.value, m.Vend.kind == VendKind.SALE.value)),
            Decimal(0))
    debts = tuple(db.session.scalars(
        select(m.Debt).where(m.Debt.meter_id == ctx.meter_id, m.Debt.outstanding > 0)
        .order_by(m.Debt.id)
    ).all()) if ctx.has_debts else ()
    try:
        pricing = price_vend(
            req.amount, tariff, ctx.credit_unit, change_in=ctx.change_balance,
            month_energy_wh=ctx.month_credit
            if ctx.credit_unit == _ENERGY_WH else 0,
            fixed_due=max(tariff.fixed_monthly - fixed_sold, Decimal(0)),
            debts=[debt_info(d, req.meter_no) for d in debts], at=now,
            carry=_token_carry(ctx))
    except TariffError as e:
        raise VendRefused("tariff_unusable", str(e)) from None
    if pricing.credit <= 0:
        raise VendRefused(
            "credit_zero",
            f"amount {req.amount} buys less than one credit unit after charges and debt")
    if pricing.credit > inputs.CREDIT_MAX:
        raise VendRefused(
            "credit_above_card_limit",
            f"amount {req.amount} buys {pricing.credit} credit units; a purchase record holds "
            f"at most {inputs.CREDIT_MAX}")
    refuse_over(req.meter_no, ctx.hoarding_limit,
                hoarding.estimate(ctx.readback_balance, [ctx.unconfirmed_credit]),
                pricing.credit, ctx.credit_unit,
                hoarding.LATEST_SERIAL if ctx.is_sts else hoarding.LATEST)
    agent = None
    if req.tender == "cash" and ctx.has_agent:
        assert ctx.station_id is not None
        try:
            agent = agents.check_float(db.session, ctx.station_id, req.amount, lock=lock)
        except agents.FloatExceeded as e:
            raise VendRefused("agent_float_exceeded", str(e)) from None
    return PricedSale(req, ctx, tariff, pricing, debts, agent, now)


def _token_carry(ctx: context.VendContext) -> Callable[[int], int] | None:
    """What an STS meter's token carries of a credit (None: a card carries it all)."""
    if ctx.sts_currency_step is None:
        return None
    per = WH_PER_STEP if ctx.credit_unit == _ENERGY_WH else \
        cents_per_step(Decimal(ctx.sts_currency_step))
    assert per is not None  # registration refuses a money meter's fractional step
    return functools.partial(carried, per_step=per)


def result_of(db: SaleDb, sale: PricedSale, vend_id: int) -> VendResult:
    """What the card writer and the receipt printer get, from the values decided (a quote:
    ``vend_id`` 0, nothing recorded)."""
    req, ctx, tariff = sale.request, sale.ctx, sale.tariff
    return VendResult(
        vend_id=vend_id, request_id=req.request_id, meter_no=req.meter_no,
        card_serial="" if ctx.is_sts else ctx.card_serial or "",
        sequence=ctx.last_sequence + 1,
        credit=sale.pricing.credit, credit_unit=CREDIT_UNITS[ctx.credit_unit], amount=req.amount,
        tariff_code=tariff.code, tariff_version=tariff.version,
        price_per_kwh=tariff.price_per_kwh, key_revision=ctx.key_revision,
        receipt=sale.pricing.components, status=VendStatus.CREATED, station=req.station,
        operator=req.operator, created_at=sale.now, kind=VendKind.SALE,
        parameters=pending_parameters(db.session, ctx.meter_id) if ctx.has_parameters
        else None,
        reprint_count=0, tender=req.tender,
    )


def record(db: SaleDb, sale: PricedSale, defer_audit: AuditFn,
           issue_token: TokenFn | None = None) -> VendResult:
    """Write the sale: advance the meter's sequence, insert the vend, draw the agent's float,
    recover debts, make an STS meter's token, and append the ``vend.create`` (and ``sts.credit``)
    audit events last (without the token's digits: a bearer credential, kept in ``sts_tokens``
    only)."""
    req, ctx, pricing = sale.request, sale.ctx, sale.pricing
    sequence = ctx.last_sequence + 1
    db.execute(ADVANCE_METER, {"meter_id": ctx.meter_id, "sequence": sequence,
                               "change": pricing.change_out})
    inserted = db.one(INSERT_VEND, {
        "request_id": req.request_id, "meter_id": ctx.meter_id,
        "card_id": None if ctx.is_sts else ctx.card_id,
        "station_id": ctx.station_id, "operator_id": ctx.operator_id,
        "tariff_id": ctx.tariff_id, "amount": req.amount, "credit": pricing.credit,
        "credit_unit": ctx.credit_unit, "sequence": sequence,
        "tariff_version": sale.tariff.version, "price_per_kwh": sale.tariff.price_per_kwh,
        "key_revision": ctx.key_revision, "receipt": canonical_json(pricing.components),
        "status": _CREATED, "created_at": sale.now,
        "kind": _SALE, "energy_charge": pricing.energy_charge,
        "tax_total": pricing.tax_total, "fixed_charge": pricing.fixed_charge,
        "debt_recovered": sum((a for _, a in pricing.debt_recovered), Decimal(0))
        if pricing.debt_recovered else _NONE,
        "change_in": pricing.change_in, "change_out": pricing.change_out,
        "tender": req.tender, "session_id": ctx.session_id, "reprint_count": 0,
        "reason": None,
    })
    assert inserted is not None
    vend_id = inserted["id"]
    if sale.agent is not None:
        drawn = agents.draw(db.session, sale.agent, vend_id, req.amount, req.meter_no,
                            req.operator, sale.now)
        defer_audit(db.session, req.operator, "agent.draw", "agent", drawn.agent_id, None,
                    {"entry_id": drawn.id, "vend_id": drawn.vend_id, "amount": drawn.amount})
    by_id = {d.id: d for d in sale.debts}
    for debt_id, taken in pricing.debt_recovered:
        by_id[debt_id].outstanding -= taken
        db.session.add(m.DebtRecovery(vend_id=vend_id, debt_id=debt_id, amount=taken))
        defer_audit(db.session, req.operator, "debt.recover", "debt", debt_id, None,
                    {"vend_id": vend_id, "amount": taken})
    result = result_of(db, sale, vend_id)
    events = [audit.shape(at=sale.now, actor=req.operator, action="vend.create",
                          entity="vend", entity_id=vend_id, after=result)]
    if ctx.is_sts:  # the token in the same transaction, on the same (direct) path
        assert issue_token is not None
        token, event = issue_token(db, sale, vend_id)
        result = replace(result, token=token)
        events.append(event)
    db.audit(events, ctx.audit_head)
    return result


def late_retry(db: SaleDb, req: SaleRequest) -> m.Vend | None:
    """A vend with this request id committed meanwhile (seen only now, under the lock)."""
    return committed_meanwhile(db.session, req.request_id)


def _month_start(now: datetime) -> datetime:
    return _first_of_month(now.year, now.month)


@functools.lru_cache(maxsize=4)
def _first_of_month(year: int, month: int) -> datetime:
    # One object per month: the SQLite column's text of it is then made once, not per sale.
    return datetime(year, month, 1, tzinfo=UTC)
