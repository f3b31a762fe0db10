"""An action taken in an operator's name without authenticating, recorded as such.

A terminal command may act as a named operator without a password or token (``rig billing …
--as NAME``: a set-up script, a lab without console passwords). The action is still that
operator's in the ledger, so the audit log must say that nobody proved who typed it: one
``operator.unauthenticated`` event, before the action's own events, names the operator, the
command and where it came from.
"""

from __future__ import annotations

import getpass
import socket

from sqlalchemy import select

from rig.billing import models as m
from rig.billing.centre.errors import NotFound
from rig.billing.centre.facade import BillingCentre


def record_unauthenticated(centre: BillingCentre, operator: str, command: str) -> None:
    """Audit that ``command`` runs as ``operator`` without authentication (NotFound if the
    operator is not registered: an unknown name acts for nobody)."""
    with centre.transaction("record an unauthenticated action") as s:
        row = s.scalar(select(m.Operator).where(m.Operator.name == operator))
        if row is None:
            raise NotFound(f"operator {operator!r} is not registered")
        centre.uow.audit(s, operator, "operator.unauthenticated", "operator", row.id, None, {
            "operator": operator, "command": command, "authenticated": False,
            "os_user": getpass.getuser(), "host": socket.gethostname()})
