"""The refusals every area of the centre raises: one exception tree, mapped to HTTP by the API
(:mod:`rig.billing.api.errors`) and rebuilt from it by the remote client."""

from __future__ import annotations

from rig.errors import BillingError


class VendRefused(BillingError):
    """A vend was refused; ``reason`` is a stable code, the message is for the operator."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class NotFound(BillingError):
    """A referenced customer, meter, card, tariff, operator, station or vend does not exist."""


class Conflict(BillingError):
    """The operation would duplicate or contradict an existing record."""


class PermissionDenied(BillingError):
    """The operator's role does not allow the operation."""
