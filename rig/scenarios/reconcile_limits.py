"""Reconciliation checks as measurements judged by their requirement, never their value.

The billing centre reports each check as expected / actual / tolerance (docs/billing.md,
"Reconciliation"); what "expected" means differs per check: a floor for energy_monotonic, a
ceiling for last_sequence_not_beyond_issued, a band for conservation, an exact value for the
rest. This turns each into the limit a report shows, so a failing check reads e.g.
``energy_monotonic 37858 Wh | limit >= 40000``, never ``== 37858``.
"""

from __future__ import annotations

from decimal import Decimal

from rig.billing.types import Check
from rig.report.record import Measurement, RunRecord, Value

BASIS = "reconciliation rule (docs/billing.md)"
_UNITS = {"energy_monotonic": "Wh"}


# Checks whose values are numbers (a served centre sends Decimals as exact strings).
NUMERIC = {"last_sequence_not_beyond_issued", "purchase_total", "purchase_count",
           "energy_monotonic", "conservation"}


def _number(value: object) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, str):
        try:
            return Decimal(value)
        except ArithmeticError:
            return None
    return None


def measure_check(record: RunRecord, name: str, check: Check, unit: str = "") -> Measurement:
    """Record one reconciliation check with the centre's requirement as its limit."""
    unit = unit or _UNITS.get(check.name, "")
    actual: Value = check.actual
    expected: Decimal | None = None
    if check.name in NUMERIC:  # a served centre's exact strings back to numbers
        expected, number = _number(check.expected), _number(check.actual)
        if isinstance(actual, str) and number is not None:
            actual = number
    tolerance = _number(check.tolerance) or Decimal(0)
    note = f"expected {check.expected} ± {check.tolerance}; centre: " \
           f"{'passed' if check.passed else 'FAILED'}"
    if check.name == "energy_monotonic" and expected is not None:
        return record.measure(name, actual, unit, low=expected, basis=BASIS,
                              description=f"energy register never below {check.expected}; "
                                          f"centre: {'passed' if check.passed else 'FAILED'}")
    if check.name == "last_sequence_not_beyond_issued" and expected is not None:
        return record.measure(name, actual, unit, low=Decimal(0), high=expected,
                              basis=BASIS, description=note)
    if expected is not None and tolerance:
        return record.measure(name, actual, unit, low=expected - tolerance,
                              high=expected + tolerance, basis=BASIS, description=note)
    return record.measure(name, actual, unit,
                          equals=expected if expected is not None else check.expected,
                          basis=BASIS,
                          description=note)


def measure_checks(record: RunRecord, checks: tuple[Check, ...], prefix: str,
                   unit_of: dict[str, str] | None = None) -> None:
    """Every check of one reconciliation, named ``{prefix}{check name}``."""
    for check in checks:
        measure_check(record, f"{prefix}{check.name}", check, (unit_of or {}).get(check.name, ""))
