"""Old import path of the billing centre (now :mod:`rig.billing.centre`), kept so modules
outside the billing area keep importing from here until they move to the new names."""

from rig.billing.centre.errors import Conflict, NotFound, PermissionDenied, VendRefused
from rig.billing.centre.facade import BillingCentre

__all__ = ["BillingCentre", "Conflict", "NotFound", "PermissionDenied", "VendRefused"]
