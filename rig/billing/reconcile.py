"""Reconciliation of a meter readback against the ledger — a pure function.

Kept apart from the database so the rules can be property-tested exhaustively and so later
rules (per-period tariff integration, emergency credit, load-side energy vs meter energy within
the accuracy class) slot in as further checks without touching storage.

Formulas (all exact ``Decimal``/``int``; see docs/billing.md):

* purchase total: ``Σ credit(applied vends) == readback.cumulative_purchase`` (exact); the
  applied vends are those up to the readback's last sequence, unreversed, counted as the
  meter's settled watermark plus the vends after it (:mod:`rig.billing.watermark`)
* purchase count: ``#applied vends == readback.purchase_count`` (exact)
* conservation, money meter (cents):
  ``(E − E0) × price / 1000  ≈  (applied − remaining + overdraft) / 100``
  within ``0.01 + price / 1000`` (one credit unit plus the price of one Wh)
* conservation, energy meter (Wh): ``E − E0 ≈ applied − remaining + overdraft`` within 2 Wh
* energy monotonic: ``E ≥`` previous readback's ``E`` (or the commissioning reading)
* ``last_sequence ≤`` last sequence issued; meter number, credit unit and MAC agree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from rig.billing.tariffs import CENT, WH_PER_KWH, energy_cost
from rig.billing.types import Check, ReadbackData, Verdict
from rig.billing.watermark import Applied, Watermark
from rig.credit_unit import CreditUnit


@dataclass(frozen=True)
class LedgerView:
    """What the ledger knows about a meter at the moment a readback arrives."""

    meter_no: str
    credit_unit: CreditUnit
    commissioning_energy_wh: int
    last_issued_sequence: int
    price_per_kwh: Decimal
    price_tariff_version: int
    previous_energy_wh: int | None
    watermark: Watermark  # the meter's settled vends when the readback arrived
    # (sequence, credit) of unreversed vends after the watermark up to the readback's last
    # sequence; for a readback older than the watermark, those above its last sequence up to
    # the watermark go in ``withdrawn`` instead.
    applied_since: Applied
    withdrawn: Applied = ()
    card_meter_no: str | None = None  # meter the presenting card is bound to, if known

    @property
    def applied_totals(self) -> tuple[int, int]:
        """(credit, count) of the unreversed vends up to the readback's last sequence."""
        if self.withdrawn:
            return self.watermark.minus(self.withdrawn)
        return self.watermark.plus(self.applied_since)


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    checks: tuple[Check, ...]
    evidence: dict[str, Any]
    expected_purchase: int
    actual_purchase: int
    expected_consumed: Decimal
    actual_consumed: Decimal


def conservation_tolerance(unit: CreditUnit, price_per_kwh: Decimal) -> Decimal:
    """One credit unit plus one Wh, in the unit the conservation check compares."""
    if unit is CreditUnit.MONEY_CENTS:
        return CENT + price_per_kwh / WH_PER_KWH
    return Decimal(2)


def reconcile(ledger: LedgerView, rb: ReadbackData) -> Outcome:
    """Run every check; the verdict is ``balanced`` only if all of them pass."""
    unit = ledger.credit_unit
    checks: list[Check] = []

    def check(name: str, expected: Any, actual: Any, tolerance: Any, passed: bool) -> None:
        checks.append(Check(name, expected, actual, tolerance, bool(passed)))

    check("meter_no", ledger.meter_no, rb.meter_no, 0, rb.meter_no == ledger.meter_no)
    if ledger.card_meter_no is not None:
        check(
            "card_meter_no",
            ledger.card_meter_no,
            rb.meter_no,
            0,
            ledger.card_meter_no == rb.meter_no,
        )
    check("credit_unit", unit.value, str(rb.credit_unit), 0, str(rb.credit_unit) == unit.value)
    check("mac_verified", True, rb.mac_verified, 0, rb.mac_verified is True)
    check(
        "last_sequence_not_beyond_issued",
        ledger.last_issued_sequence,
        rb.last_sequence,
        0,
        0 <= rb.last_sequence <= ledger.last_issued_sequence,
    )

    applied_credit, applied_count = ledger.applied_totals
    check(
        "purchase_total",
        applied_credit,
        rb.cumulative_purchase,
        0,
        applied_credit == rb.cumulative_purchase,
    )
    check(
        "purchase_count",
        applied_count,
        rb.purchase_count,
        0,
        applied_count == rb.purchase_count,
    )

    floor_energy = (
        ledger.previous_energy_wh
        if ledger.previous_energy_wh is not None
        else ledger.commissioning_energy_wh
    )
    check("energy_monotonic", floor_energy, rb.energy_wh, 0, rb.energy_wh >= floor_energy)

    delta_wh = rb.energy_wh - ledger.commissioning_energy_wh
    credit_used = applied_credit - rb.remaining + rb.overdraft
    if unit is CreditUnit.MONEY_CENTS:
        expected_consumed = energy_cost(delta_wh, ledger.price_per_kwh)
        actual_consumed = Decimal(credit_used) * CENT
    else:
        expected_consumed = Decimal(delta_wh)
        actual_consumed = Decimal(credit_used)
    tolerance = conservation_tolerance(unit, ledger.price_per_kwh)
    check(
        "conservation",
        expected_consumed,
        actual_consumed,
        tolerance,
        abs(expected_consumed - actual_consumed) <= tolerance,
    )

    verdict = Verdict.BALANCED if all(c.passed for c in checks) else Verdict.MISMATCH
    evidence = {
        "verdict": verdict.value,
        "failed": [c.name for c in checks if not c.passed],
        "checks": [_jsonable(asdict(c)) for c in checks],
        "ledger": _jsonable(asdict(ledger)),
        "readback": _jsonable(asdict(rb)),
        "derived": {
            "applied_credit": applied_credit,
            "energy_delta_wh": delta_wh,
            "credit_used": credit_used,
            "tariff_version_readback": rb.tariff_version,
            "tariff_version_priced": ledger.price_tariff_version,
        },
    }
    return Outcome(
        verdict=verdict,
        checks=tuple(checks),
        evidence=evidence,
        expected_purchase=applied_credit,
        actual_purchase=rb.cumulative_purchase,
        expected_consumed=expected_consumed,
        actual_consumed=actual_consumed,
    )


def _jsonable(value: Any) -> Any:
    """JSON-safe copy: Decimals become exact strings (never floats), datetimes ISO 8601."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value
