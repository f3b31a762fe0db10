"""Pricing: turn a payment into card credit plus a receipt whose lines add up exactly.

Pure ``Decimal``/``int`` arithmetic, no database, so it can be property-tested. Order of a
purchase (documented in docs/billing.md):

1. debt recovery — per debt, ``floor(amount × percent) + fixed``, capped by what is owed;
2. the fixed monthly charge still due this month;
3. what is left (plus the change kept from the last purchase) pays energy and its taxes:
   the net budget is ``floor_cent(left / (1 + Σ rates))``; energy is bought with it (money
   meter: the budget itself, in cents; energy meter: whole Wh, walking the blocks from the
   energy already vended this month, or at the time-of-use band of the purchase instant);
4. each tax is ``floor_cent(energy charge × rate)``;
5. whatever is left is change, kept on the meter account for the next purchase, so rounding
   never leaks money from the customer over any number of vends.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from rig.billing.types import (
    Band,
    Block,
    DebtInfo,
    Pricing,
    ReceiptLine,
    TariffInfo,
)
from rig.credit_unit import CREDIT_UNITS, CreditUnit

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
WH_PER_KWH = 1000
RATE_SCALE = 10**6  # percent with 4 decimals == fraction with 6


class TariffError(ValueError):
    """A tariff cannot price this purchase (wrong meter kind, malformed structure)."""


def floor_cent(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_FLOOR)


def price_vend(
    amount: Decimal,
    tariff: TariffInfo,
    credit_unit: CreditUnit | str,
    *,
    change_in: Decimal = ZERO,
    month_energy_wh: int = 0,
    fixed_due: Decimal = ZERO,
    debts: Sequence[DebtInfo] = (),
    at: datetime | None = None,
    carry: Callable[[int], int] | None = None,
) -> Pricing:
    """Price a payment of ``amount`` (currency, whole cents) on ``tariff``. ``carry``: the
    most credit (≤ its argument) the medium can carry — an STS token's whole 0.1 kWh steps or
    currency steps and its 14-bit mantissa; only that much is charged, the rest stays change."""
    if not isinstance(amount, Decimal):
        raise TypeError(f"amount must be Decimal, got {type(amount).__name__}")
    unit = CREDIT_UNITS.get(credit_unit) or CreditUnit(credit_unit)  # the call names a wrong one
    if tariff.price_per_kwh <= 0:
        raise TariffError(
            f"tariff {tariff.code} v{tariff.version} has non-positive price {tariff.price_per_kwh}"
        )
    if unit is CreditUnit.MONEY_CENTS and tariff.kind != "flat":
        raise TariffError(
            f"tariff {tariff.code} v{tariff.version} is {tariff.kind}: a money meter applies one "
            "price itself, so block and time-of-use tariffs need an energy-credit meter"
        )
    lines: list[ReceiptLine] = []
    if change_in:
        lines.append(ReceiptLine("change_in", -change_in, "change kept from the last purchase"))
    left = amount + change_in

    recovered: list[tuple[int, Decimal]] = []
    for debt in debts:
        due = floor_cent(amount * debt.recovery_percent / 100) + debt.recovery_fixed
        take = min(due, debt.outstanding, left)
        if take > 0:
            left -= take
            recovered.append((debt.debt_id, take))
            lines.append(ReceiptLine(
                "debt", take,
                f"{debt.description}: {debt.outstanding - take} still owed after this"))

    fixed = min(fixed_due, left) if fixed_due > 0 else ZERO
    if fixed > 0:
        left -= fixed
        rest = fixed_due - fixed
        lines.append(ReceiptLine(
            "fixed", fixed, "fixed monthly charge" + (f" ({rest} still due)" if rest else "")))

    rate_units = sum(int(t.rate_percent * 10**4) for t in tariff.taxes) if tariff.taxes else 0
    budget = Decimal(int(left / CENT) * RATE_SCALE // (RATE_SCALE + rate_units)) * CENT

    if unit is CreditUnit.MONEY_CENTS:
        credit = int(budget / CENT) if carry is None else carry(int(budget / CENT))
        energy_charge = credit * CENT
        lines.append(ReceiptLine(
            "credit", energy_charge,
            f"{energy_charge} money credit (meter applies {tariff.price_per_kwh}/kWh, tariff "
            f"{tariff.code} v{tariff.version})"))
    else:
        steps = _energy_steps(tariff, month_energy_wh, budget, at)
        if carry is not None:
            steps = _trimmed(steps, carry(sum(wh for wh, _, _ in steps)))
        credit = sum(wh for wh, _, _ in steps)
        energy_charge = ZERO
        exact = Decimal(0)
        for wh, price, label in steps:
            exact += Decimal(wh) * price / WH_PER_KWH
            line = exact.quantize(CENT, rounding=ROUND_HALF_UP) - energy_charge
            energy_charge += line
            lines.append(ReceiptLine(
                "energy", line, f"{energy_kwh(wh)} kWh @ {price}/kWh ({label}, tariff "
                f"{tariff.code} v{tariff.version})"))

    tax_total = ZERO
    for tax in tariff.taxes:
        t = floor_cent(energy_charge * tax.rate_percent / 100)
        tax_total += t
        lines.append(ReceiptLine("tax", t, f"{tax.name} {tax.rate_percent}%"))

    change_out = left - energy_charge - tax_total
    if change_out < 0:  # cannot happen: budget × (1 + rates) ≤ left
        raise AssertionError(f"pricing overspent {amount}: change {change_out}")
    if change_out:
        kept = "change kept for the next purchase"
        if carry is not None:
            kept += (" (a token carries whole 0.1 kWh steps its 14-bit mantissa can count)"
                     if unit is CreditUnit.ENERGY_WH else
                     " (a currency token carries only the amounts its 14-bit mantissa can "
                     "count)")
        lines.append(ReceiptLine("change_out", change_out, kept))
    return Pricing(
        credit=credit,
        components=tuple(lines),
        energy_charge=energy_charge,
        tax_total=tax_total,
        fixed_charge=fixed,
        debt_recovered=tuple(recovered),
        change_in=change_in,
        change_out=change_out,
    )


def _energy_steps(
    tariff: TariffInfo, month_wh: int, budget: Decimal, at: datetime | None
) -> list[tuple[int, Decimal, str]]:
    """Whole Wh bought with ``budget``: (Wh, price, label) per block or band used."""
    if tariff.kind == "flat":
        return [(int(budget * WH_PER_KWH // tariff.price_per_kwh), tariff.price_per_kwh, "flat")]
    if tariff.kind == "tou":
        if at is None:
            raise TariffError(f"time-of-use tariff {tariff.code} needs the purchase time")
        band = band_at(tariff.bands, at + timedelta(minutes=tariff.utc_offset_minutes))
        return [(int(budget * WH_PER_KWH // band.price_per_kwh), band.price_per_kwh, band.name)]
    steps: list[tuple[int, Decimal, str]] = []
    used = month_wh
    lower = 0
    for i, block in enumerate(tariff.blocks, start=1):
        upper = block.up_to_wh
        label = f"block {i}: {lower // WH_PER_KWH}-" + (
            f"{upper // WH_PER_KWH} kWh" if upper is not None else "… kWh")
        lower = upper or 0
        if upper is not None and used >= upper:
            continue
        affordable = int(budget * WH_PER_KWH // block.price_per_kwh)
        wh = affordable if upper is None else min(affordable, upper - used)
        if wh <= 0:
            break
        steps.append((wh, block.price_per_kwh, label))
        budget -= Decimal(wh) * block.price_per_kwh / WH_PER_KWH
        used += wh
        if wh == affordable:
            break
    return steps or [(0, tariff.price_per_kwh, "none")]


def _trimmed(steps: list[tuple[int, Decimal, str]],
             total: int) -> list[tuple[int, Decimal, str]]:
    """The first ``total`` Wh of ``steps`` (the cheapest blocks come first)."""
    out: list[tuple[int, Decimal, str]] = []
    for wh, price, label in steps:
        take = min(wh, total - sum(w for w, _, _ in out))
        if take > 0:
            out.append((take, price, label))
    return out or [(0, steps[0][1], steps[0][2])]


def band_at(bands: Sequence[Band], local: datetime) -> Band:
    """The band whose [start, end) minute-of-day range holds ``local`` (ranges may wrap)."""
    minute = local.hour * 60 + local.minute
    for band in bands:
        s, e = band.start_minute, band.end_minute
        if (s <= minute < e) if s < e else (minute >= s or minute < e):
            return band
    raise TariffError(f"no time-of-use band covers {local:%H:%M}")


def validate_structure(kind: str, blocks: Sequence[Block], bands: Sequence[Band]) -> None:
    """Refuse malformed block/band lists with a message naming the bad entry."""
    if kind == "block":
        if not blocks:
            raise TariffError("a block tariff needs at least one block")
        prev = 0
        for i, b in enumerate(blocks, start=1):
            if b.price_per_kwh <= 0:
                raise TariffError(f"block {i}: price {b.price_per_kwh} must be positive")
            last = i == len(blocks)
            if b.up_to_wh is None and not last:
                raise TariffError(f"block {i}: only the last block may be unbounded")
            if b.up_to_wh is not None and b.up_to_wh <= prev:
                raise TariffError(f"block {i}: up_to_wh {b.up_to_wh} must exceed {prev}")
            prev = b.up_to_wh or prev
        if blocks[-1].up_to_wh is not None:
            raise TariffError("the last block must be unbounded (up_to_wh None)")
    elif kind == "tou":
        if not bands:
            raise TariffError("a time-of-use tariff needs at least one band")
        covered = [0] * 1440
        for band in bands:  # not `b`: that name holds a Block above
            if band.price_per_kwh <= 0:
                raise TariffError(f"band {band.name}: price {band.price_per_kwh} must be "
                                  "positive")
            if not (0 <= band.start_minute < 1440 and 0 <= band.end_minute <= 1440):
                raise TariffError(f"band {band.name}: minutes must be within one day")
            span = (range(band.start_minute, band.end_minute)
                    if band.start_minute < band.end_minute
                    else [*range(band.start_minute, 1440), *range(0, band.end_minute)])
            for minute in span:
                covered[minute] += 1
        if any(c != 1 for c in covered):
            bad = next(i for i, c in enumerate(covered) if c != 1)
            raise TariffError(
                f"time-of-use bands must cover each minute of the day exactly once "
                f"(minute {bad // 60:02d}:{bad % 60:02d} is covered {covered[bad]} times)")
    elif kind != "flat":
        raise TariffError(f"tariff kind {kind!r} is not one of: flat, block, tou")


def energy_kwh(wh: int) -> Decimal:
    """Wh as exact kWh for display."""
    return Decimal(wh) / WH_PER_KWH


def energy_cost(wh: int, price_per_kwh: Decimal) -> Decimal:
    """Exact money value of ``wh`` at a flat price (no rounding)."""
    return Decimal(wh) * price_per_kwh / WH_PER_KWH
