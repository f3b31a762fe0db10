"""The audit's record of each receipt print: printed, or not and why.

The centre's service has no public "record this event" call, so this appends to the same
hash chain with the audit module's public functions, in one transaction of its own on the
centre's engine, signed with the centre's audit key, exactly as the centre's own events are
(appended last, after every other write of the transaction).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from rig.billing import audit
from rig.billing.centre.facade import BillingCentre


def record_print(centre: BillingCentre, vend_id: int, *, operator: str, printer: str,
                 printed: bool, reason: str = "", reprint: int = 0) -> None:
    """Append ``vend.print`` (printed) or ``vend.print_failed`` (with the reason)."""
    action = "vend.print" if printed else "vend.print_failed"
    after = {"printer": printer, "printed": printed, "reason": reason, "reprint": reprint}
    with Session(centre.engine) as s, s.begin():
        audit.defer(s, at=centre.now(), actor=operator, action=action, entity="vend",
                    entity_id=vend_id, after=after)
        audit.write_deferred(s, centre.audit_config.key)
