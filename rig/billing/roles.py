"""Which role may do what: the one ranking the REST API, the console and the CLI check against."""

from __future__ import annotations

from rig.billing.types import OperatorRole

RANK = {OperatorRole.CASHIER: 0, OperatorRole.SUPERVISOR: 1, OperatorRole.ADMINISTRATOR: 2}


def may(role: OperatorRole, needed: OperatorRole) -> bool:
    """True when ``role`` is ``needed`` or a higher one."""
    return RANK[role] >= RANK[needed]


def needs_words(needed: OperatorRole) -> str:
    """"an administrator" / "a supervisor or an administrator" / "any operator"."""
    if needed is OperatorRole.ADMINISTRATOR:
        return "an administrator"
    if needed is OperatorRole.SUPERVISOR:
        return "a supervisor or an administrator"
    return "any operator"
