"""The audit chain as the centre shows it: the log, its verification and its checkpoints."""

from __future__ import annotations

from sqlalchemy import select

from rig.billing import audit, audit_verify
from rig.billing import models as m
from rig.billing.audit_key import AuditConfig
from rig.billing.centre.uow import UnitOfWork
from rig.errors import BillingError


class AuditDesk:
    """Reading and verifying the audit chain."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def verify_audit_chain(self, config: AuditConfig | None = None) -> audit.ChainReport:
        """Verify the audit chain with the centre's audit key (or ``config``'s), against the
        checkpoints in its anchor, and the ledger tables against the events; the report names
        the first broken event and every row that disagrees (docs/billing.md, "Audit
        verification")."""
        with self.uow.transaction("verify_audit_chain") as s:
            return audit_verify.verify(s, config or self.uow.audit_config, self.uow.now())

    def audit_checkpoint(self) -> audit.ChainReport:
        """Verify the chain and, if it holds, write a checkpoint of its head to the anchor
        (``rig billing audit checkpoint``, e.g. from a timer)."""
        if self.uow.anchoring is None:
            raise BillingError("no audit anchor is configured ($RIG_AUDIT_ANCHOR)")
        report = self.verify_audit_chain()
        if report.ok and report.head is not None:
            self.uow.anchoring.checkpoint(report.head)
        return report

    def audit_log(self, entity: str | None = None) -> list[audit.AuditEntry]:
        with self.uow.transaction("audit_log") as s:
            q = select(m.AuditEvent).order_by(m.AuditEvent.seq)
            if entity is not None:
                q = q.where(m.AuditEvent.entity == entity)
            return [audit.entry(r) for r in s.scalars(q)]
