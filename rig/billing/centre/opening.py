"""Opening a billing centre by URL: the engine (created or upgraded) and the facade over it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from rig.billing.audit_key import AuditConfig
from rig.billing.centre.facade import BillingCentre
from rig.billing.engine import DEFAULT_LOCK_WAIT_S, DEFAULT_URL, create_billing_engine, upgrade
from rig.billing.readback_keys import ReadbackKeyService
from rig.billing.sts_keys import StsKeyService
from rig.billing.types import VendLimits


def open_billing(
    url: str = DEFAULT_URL,
    *,
    limits: VendLimits | None = None,
    clock: Callable[[], datetime] | None = None,
    lock_wait_s: float = DEFAULT_LOCK_WAIT_S,
    audit: AuditConfig | None = None,
    readback_keys: ReadbackKeyService | None = None,
    sts_keys: StsKeyService | None = None,
    **engine_kwargs: Any,
) -> BillingCentre:
    """Open (creating or upgrading as needed) a billing database and return its centre.

    ``url`` is any SQLAlchemy URL, e.g. ``sqlite:///bench/billing.sqlite`` or
    ``postgresql+psycopg://rig@localhost/billing``. ``clock`` lets the emulated bench drive
    the centre with its accelerated time. ``lock_wait_s``: see :func:`create_billing_engine`.
    ``audit``: the audit key and anchor (default: ``$RIG_AUDIT_KEY_FILE``,
    ``$RIG_AUDIT_ANCHOR``; see :mod:`rig.billing.audit_key`).
    ``readback_keys`` verifies readback MACs (default: $RIG_READBACK_KEY, else the public lab
    test key, flagged as such in every reconciliation it verifies).
    ``sts_keys``: the STS vending keys (default: ``$RIG_STS_KEY_FILE``, else the public STS
    test keys, flagged as such in every token's audit event).
    """
    config = audit if audit is not None else AuditConfig.from_env()
    keys = readback_keys or ReadbackKeyService.default()
    engine = create_billing_engine(url, lock_wait_s=lock_wait_s, **engine_kwargs)
    upgrade(engine)
    return BillingCentre(engine, limits=limits, clock=clock, audit_config=config,
                         readback_keys=keys, sts_keys=sts_keys)
