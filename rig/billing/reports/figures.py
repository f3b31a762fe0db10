"""The six billing reports, computed from the ledger with exact arithmetic in Python.

Sums are ``Decimal`` in Python, never SQL ``SUM`` on money, so every backend gives the same
figure to the cent. Days and months are UTC.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from rig.billing import models as m
from rig.billing.centre.facade import BillingCentre
from rig.billing.reports.model import Cell, Chart, Report

ZERO = Decimal("0.00")


def _day_start(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def _month_start(year: int, month: int) -> datetime:
    return datetime(year, month, 1, tzinfo=UTC)


def _next_month(t: datetime) -> datetime:
    return _month_start(t.year + (t.month == 12), t.month % 12 + 1)


def daily_sales(centre: BillingCentre, start: date, end: date) -> Report:
    """Sales per UTC day and station over ``start``…``end`` (inclusive), reversals excluded.

    Cash and bank-paid vends are shown apart (only cash is in a drawer); free issues are
    counted but carry no money.
    """
    if end < start:
        raise ValueError(f"report period ends ({end}) before it starts ({start})")
    with centre.uow.reading("the daily sales report") as s:
        rows = s.execute(
            select(m.Vend.created_at, m.Vend.amount, m.Vend.tender, m.Vend.kind, m.Station.code)
            .join(m.Station, m.Station.id == m.Vend.station_id)
            .where(m.Vend.created_at >= _day_start(start),
                   m.Vend.created_at < _day_start(end) + timedelta(days=1),
                   m.Vend.status != "reversed")
        ).all()
    acc: dict[tuple[date, str], list] = defaultdict(lambda: [0, 0, ZERO, ZERO])
    for at, amount, tender, kind, station in rows:
        a = acc[(at.date(), station)]
        if kind == "free":
            a[1] += 1
            continue
        a[0] += 1
        a[2 if tender == "cash" else 3] += amount
    table: list[tuple[Cell, ...]] = [
        (day, st, n, free, cash, bank, cash + bank)
        for (day, st), (n, free, cash, bank) in sorted(acc.items())
    ]
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    cash_by_day = {d: sum((r[4] for r in table if r[0] == d), ZERO) for d in days}
    bank_by_day = {d: sum((r[5] for r in table if r[0] == d), ZERO) for d in days}
    totals: tuple[Cell, ...] = (
        "TOTAL", "", sum(r[2] for r in table), sum(r[3] for r in table),
        sum(cash_by_day.values(), ZERO), sum(bank_by_day.values(), ZERO),
        sum(cash_by_day.values(), ZERO) + sum(bank_by_day.values(), ZERO),
    )
    return Report(
        name="daily-sales", title="Daily sales", subtitle=f"{start} to {end} (UTC days)",
        columns=("day", "station", "vends", "free_issues", "cash", "bank", "total"),
        rows=tuple(table), totals=totals, generated_at=centre.now(),
        chart=Chart("Sales per day", tuple(d.isoformat() for d in days),
                    (("cash", tuple(cash_by_day[d] for d in days)),
                     ("bank", tuple(bank_by_day[d] for d in days))),
                    "amount", stacked=True),
    )


def cash_up(centre: BillingCentre, start: date | None = None, end: date | None = None) -> Report:
    """Per cashier session: cash taken, reversals, expected vs counted cash in the drawer.

    Expected cash = opening float + cash vends of the session that were not reversed (a
    reversed sale is handed back). Over/short = counted − expected, for closed sessions.
    """
    with centre.uow.reading("the cash-up report") as s:
        q = select(m.CashierSession).order_by(m.CashierSession.id)
        if start is not None:
            q = q.where(m.CashierSession.opened_at >= _day_start(start))
        if end is not None:
            q = q.where(m.CashierSession.opened_at < _day_start(end) + timedelta(days=1))
        sessions = s.scalars(q).all()
        vends = s.execute(
            select(m.Vend.session_id, m.Vend.amount, m.Vend.status, m.Vend.tender, m.Vend.kind)
            .where(m.Vend.session_id.in_([x.id for x in sessions]))
        ).all()
        info = [(x.id, x.operator.name, x.station.code, x.status, x.opened_at, x.closed_at,
                 x.opening_float, x.counted_cash) for x in sessions]
    per: dict[int, list] = defaultdict(lambda: [0, ZERO, 0, ZERO, 0, ZERO])
    for sid, amount, status, tender, kind in vends:
        a = per[sid]
        if kind == "free":
            continue
        if status == "reversed":
            a[2] += 1
            a[3] += amount
        elif tender == "cash":
            a[0] += 1
            a[1] += amount
        else:
            a[4] += 1
            a[5] += amount
    table: list[tuple[Cell, ...]] = []
    for sid, op, st, status, opened, closed, float_, counted in info:
        n, cash, nrev, rev, nbank, bank = per[sid]
        expected = float_ + cash
        diff = None if counted is None else counted - expected
        table.append((sid, op, st, status, opened, closed, n, cash, nrev, rev, nbank, bank,
                      float_, expected, counted, diff))
    labels = tuple(f"#{r[0]} {r[1]}" for r in table)
    return Report(
        name="cash-up", title="Cashier cash-up",
        subtitle="per cashier session" + (f", opened {start} to {end}" if start or end else ""),
        columns=("session", "operator", "station", "status", "opened_at", "closed_at",
                 "cash_vends", "cash_sales", "reversed_vends", "reversed_amount", "bank_vends",
                 "bank_sales", "opening_float", "expected_cash", "counted_cash", "over_short"),
        rows=tuple(table), generated_at=centre.now(),
        totals=("TOTAL", "", "", "", None, None, sum(r[6] for r in table),
                sum((r[7] for r in table), ZERO), sum(r[8] for r in table),
                sum((r[9] for r in table), ZERO), sum(r[10] for r in table),
                sum((r[11] for r in table), ZERO), sum((r[12] for r in table), ZERO),
                sum((r[13] for r in table), ZERO), None,
                sum((r[15] for r in table if r[15] is not None), ZERO)),
        chart=Chart("Expected vs counted cash", labels,
                    (("expected", tuple(r[13] for r in table)),
                     ("counted", tuple(r[14] or ZERO for r in table))), "amount"),
    )


def consumption(centre: BillingCentre, start: date, end: date) -> Report:
    """Energy per meter per calendar month (UTC) from readbacks, by the meter's own timestamp.

    A month's consumption = the last energy register read in the month − the last one read
    before it (or the commissioning energy). Months without a readback are not estimated.
    """
    first = _month_start(start.year, start.month)
    stop = _next_month(_month_start(end.year, end.month))
    with centre.uow.reading("the consumption report") as s:
        meters = s.execute(
            select(m.Meter.id, m.Meter.meter_no, m.Customer.account_no,
                   m.Meter.commissioning_energy_wh)
            .join(m.Customer, m.Customer.id == m.Meter.customer_id).order_by(m.Meter.meter_no)
        ).all()
        readings = s.execute(
            select(m.Readback.meter_id, m.Readback.meter_timestamp, m.Readback.energy_wh)
            .where(m.Readback.meter_timestamp < stop)
            .order_by(m.Readback.meter_timestamp, m.Readback.id)
        ).all()
    by_meter: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    for mid, at, wh in readings:
        by_meter[mid].append((at, wh))
    months: list[datetime] = []
    t = first
    while t < stop:
        months.append(t)
        t = _next_month(t)
    table: list[tuple[Cell, ...]] = []
    per_month: dict[str, int] = {f"{x:%Y-%m}": 0 for x in months}
    for mid, meter_no, account, e0 in meters:
        series = by_meter.get(mid, [])
        for ms in months:
            me = _next_month(ms)
            inside = [(at, wh) for at, wh in series if ms <= at < me]
            if not inside:
                continue
            before = [wh for at, wh in series if at < ms]
            opening = before[-1] if before else e0
            closing = inside[-1][1]
            used = closing - opening
            table.append((meter_no, account, f"{ms:%Y-%m}", opening, closing, used, len(inside)))
            per_month[f"{ms:%Y-%m}"] += used
    return Report(
        name="consumption", title="Consumption per meter and month",
        subtitle=f"{first:%Y-%m} to {months[-1]:%Y-%m}, from readbacks (meter time, UTC)",
        columns=("meter_no", "account", "month", "opening_wh", "closing_wh", "consumption_wh",
                 "readbacks"),
        rows=tuple(table), generated_at=centre.now(),
        totals=("TOTAL", "", "", None, None, sum(r[5] for r in table),
                sum(r[6] for r in table)),
        chart=Chart("Energy consumed per month (all meters)", tuple(per_month),
                    (("Wh", tuple(per_month.values())),), "Wh"),
    )


def arrears(centre: BillingCentre) -> Report:
    """Every debt: principal, recovered so far by vends, outstanding, and the recovery terms."""
    with centre.uow.reading("the arrears report") as s:
        rows = s.execute(
            select(m.Debt, m.Meter.meter_no, m.Customer.account_no, m.Customer.name)
            .join(m.Meter, m.Meter.id == m.Debt.meter_id)
            .join(m.Customer, m.Customer.id == m.Meter.customer_id)
            .order_by(m.Debt.outstanding.desc(), m.Debt.id)
        ).all()
        table: list[tuple[Cell, ...]] = [
            (d.id, no, acc, name, d.description, d.created_at.date(), d.principal,
             d.principal - d.outstanding, d.outstanding, d.recovery_percent, d.recovery_fixed,
             "open" if d.outstanding > 0 else "cleared")
            for d, no, acc, name in rows
        ]
    by_meter: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for r in table:
        if r[8]:
            by_meter[str(r[1])] += r[8]  # type: ignore[operator]
    top = sorted(by_meter.items(), key=lambda kv: kv[1], reverse=True)[:20]
    return Report(
        name="arrears", title="Arrears and debt", subtitle="all debts, largest outstanding first",
        columns=("debt", "meter_no", "account", "customer", "description", "since", "principal",
                 "recovered", "outstanding", "recovery_percent", "recovery_fixed", "state"),
        rows=tuple(table), generated_at=centre.now(),
        totals=("TOTAL", "", "", "", "", None, sum((r[6] for r in table), ZERO),
                sum((r[7] for r in table), ZERO), sum((r[8] for r in table), ZERO), None, None,
                f"{sum(1 for r in table if r[11] == 'open')} open"),
        chart=Chart("Outstanding debt per meter", tuple(k for k, _ in top),
                    (("outstanding", tuple(v for _, v in top)),), "amount"),
    )


def exceptions(centre: BillingCentre) -> Report:
    """The supervisor's queue: reconciliation mismatches with the checks that failed, and every
    bank return or reversal with its reason code and what it did (a cancelled payment, a debt)."""
    items = centre.reconciliation_exceptions()
    table: list[tuple[Cell, ...]] = []
    per_check: dict[str, int] = defaultdict(int)
    for x in items:
        failed = [c.name for c in x.failed]
        for name in failed:
            per_check[name] += 1
        ev = x.evidence
        table.append(("reconciliation", x.reconciliation_id, x.created_at, x.meter_no,
                      x.readback_id, " ".join(failed), "; ".join(
                          f"{c.name}: expected {c.expected}, got {c.actual}" for c in x.failed),
                      ev.get("expected_purchase", ""), ev.get("actual_purchase", ""), None, None))
    bank = 0
    for entry, at, code, amount, reason, meter_no in _bank_returns(centre):
        bank += 1
        per_check[f"bank {code or 'reversal'}"] += 1
        table.append(("bank return" if code else "bank reversal", entry, at, meter_no, None,
                      "", reason, "", "", code or "RvslInd", amount))
    return Report(
        name="exceptions", title="Reconciliation exceptions and bank returns",
        subtitle=f"{len(items)} mismatched readback(s), {bank} bank return(s)/reversal(s)",
        columns=("kind", "id", "at", "meter_no", "readback", "failed_checks", "evidence",
                 "expected_purchase", "actual_purchase", "return_code", "amount"),
        rows=tuple(table), generated_at=centre.now(),
        chart=Chart("Failed checks and bank returns", tuple(per_check),
                    (("exceptions", tuple(per_check.values())),), "count"),
    )


def _bank_returns(centre: BillingCentre) -> list[tuple[str, datetime, str | None, Decimal, str,
                                                       str | None]]:
    """(entry, booked, reason code, amount, what it did, meter) of every return/reversal."""
    with centre.uow.reading("the exceptions report") as s:
        rows = s.execute(
            select(m.BankPayment.entry_ref, m.BankPayment.booked_on, m.BankPayment.return_code,
                   m.BankPayment.amount, m.BankPayment.reason, m.Meter.meter_no)
            .outerjoin(m.Meter, m.Meter.id == m.BankPayment.meter_id)
            .where(m.BankPayment.kind.in_(("credit_return", "debit_return")))
            .order_by(m.BankPayment.booked_on, m.BankPayment.id)).all()
    return [(e, at, code, amount, reason or "", no) for e, at, code, amount, reason, no in rows]


def stale_meters(centre: BillingCentre, days: int, now: datetime | None = None) -> Report:
    """Active meters with no readback received for ``days`` days (or never, once commissioned
    that long ago): a card not seen is credit nobody has reconciled."""
    if days < 0:
        raise ValueError(f"days must not be negative, got {days}")
    now = now or centre.now()
    cutoff = now - timedelta(days=days)
    with centre.uow.reading("the stale meters report") as s:
        meters = s.execute(
            select(m.Meter.id, m.Meter.meter_no, m.Customer.account_no, m.Customer.name,
                   m.Meter.commissioned_at)
            .join(m.Customer, m.Customer.id == m.Meter.customer_id)
            .where(m.Meter.status == "active").order_by(m.Meter.meter_no)
        ).all()
        last: dict[int, datetime] = {}
        for mid, at in s.execute(select(m.Readback.meter_id, m.Readback.received_at)):
            if mid not in last or at > last[mid]:
                last[mid] = at
    table: list[tuple[Cell, ...]] = []
    for mid, no, acc, name, commissioned in meters:
        seen = last.get(mid)
        since = seen or commissioned
        if since <= cutoff:
            table.append((no, acc, name, seen if seen else "never", commissioned,
                          (now - since).days))
    table.sort(key=lambda r: r[5], reverse=True)  # type: ignore[arg-type, return-value]
    return Report(
        name="stale-meters", title="Stale meters",
        subtitle=f"no readback for {days} days or more as of {now:%Y-%m-%d %H:%M} UTC",
        columns=("meter_no", "account", "customer", "last_readback", "commissioned_at",
                 "days_since"),
        rows=tuple(table), generated_at=now,
        chart=Chart("Days since last readback", tuple(str(r[0]) for r in table[:30]),
                    (("days", tuple(r[5] for r in table[:30])),), "days"),  # type: ignore[misc]
    )
