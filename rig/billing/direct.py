"""Old import path of the direct DBAPI sale transactions (now
:mod:`rig.billing.centre.sales.direct`), kept for the fault campaign and the bench."""

from rig.billing.centre.sales.direct import Direct, DirectTransaction, Prepared, observe

__all__ = ["Direct", "DirectTransaction", "Prepared", "observe"]
