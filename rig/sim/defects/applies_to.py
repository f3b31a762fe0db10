"""Which meters a defect applies to: predicates on the profile (a power-limit defect needs a
power limit, a card-reader defect the format whose reader it breaks)."""

from __future__ import annotations

from collections.abc import Callable

from rig.meter.protocols import Wire
from rig.profile import CreditKind, MeterProfile


def relay_trip(p: MeterProfile) -> bool:
    return "relay_trip" in p.thresholds.alarm2_actions


def overdraft(p: MeterProfile) -> bool:
    return p.thresholds.overdraft_limit > 0


def below_cutoff_recloses(p: MeterProfile) -> bool:
    """The cut-off scenario buys credit that leaves the balance above the cut-off level but at
    or below close-allowed only where there is debt to pay off (overdraft or automatic EC)."""
    ec = p.emergency_credit
    return overdraft(p) or (ec is not None and ec.activation == "automatic")


def emergency_credit(activation: str | None = None) -> Callable[[MeterProfile], bool]:
    def applies(p: MeterProfile) -> bool:
        ec = p.emergency_credit
        return ec is not None and (activation is None or ec.activation == activation)
    return applies


def capability(name: str) -> Callable[[MeterProfile], bool]:
    return lambda p: name in p.capabilities


def money(p: MeterProfile) -> bool:
    return p.credit.unit is CreditKind.MONEY


def dlt645(p: MeterProfile) -> bool:
    return p.protocol.spec.wire is Wire.DLT645


def rigpp(p: MeterProfile) -> bool:
    """The card-reader defects are wrong methods of RIGPP's reader: RIGPP meters only."""
    return p.card.format == "rigpp"


def sle4442(p: MeterProfile) -> bool:
    """The memory-card defects are wrong methods of the SLE 4442 meter reader."""
    return p.card.format == "sle4442"


def alarm1_reported(p: MeterProfile) -> bool:
    """Alarm 1 is visible on the meter's protocol (IEC 62056-21 status word); DL/T 645 status
    word 3 has no alarm-1 bit, so a DL/T 645 meter shows it only on its display."""
    return not dlt645(p)


def sts(p: MeterProfile) -> bool:
    return p.sts is not None
