"""The billing centre, one module per area behind the :class:`BillingCentre` facade
(:mod:`.facade` lists which module decides what)."""

from rig.billing.centre.errors import Conflict, NotFound, PermissionDenied, VendRefused
from rig.billing.centre.facade import BillingCentre
from rig.billing.centre.opening import open_billing

__all__ = ["BillingCentre", "Conflict", "NotFound", "PermissionDenied", "VendRefused",
           "open_billing"]
