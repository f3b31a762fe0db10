"""Old import path of the database opening (now :mod:`rig.billing.engine` and
:func:`rig.billing.centre.open_billing`), kept so modules outside the billing area keep
importing from here until they move to the new names."""

from rig.billing.centre.opening import open_billing
from rig.billing.engine import (
    DEFAULT_LOCK_WAIT_S,
    DEFAULT_URL,
    alembic_config,
    create_billing_engine,
    lock_wait_seconds,
    upgrade,
)

__all__ = ["DEFAULT_LOCK_WAIT_S", "DEFAULT_URL", "alembic_config", "create_billing_engine",
           "lock_wait_seconds", "open_billing", "upgrade"]
