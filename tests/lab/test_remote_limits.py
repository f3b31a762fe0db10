"""A bench on a served centre sizes purchases by the centre's own vend limits (the hoarding
scenario fills the meter with the largest vend the centre allows)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from rig.billing import open_billing
from rig.billing.remote import RemoteBillingCentre
from rig.billing.types import VendLimits
from tests.billing.live_server import serving

LIMITS = VendLimits(Decimal("2.50"), Decimal("750.25"))


def test_remote_centre_reports_the_served_limits(tmp_path: Path) -> None:
    with open_billing(f"sqlite:///{tmp_path / 'billing.sqlite'}", limits=LIMITS) as centre:
        centre.register_operator("ann", "administrator")
        centre.register_operator("carol", "cashier")
        token = centre.create_api_token("carol", actor="ann").secret
        with serving(centre) as url, RemoteBillingCentre(url, token) as remote:
            assert remote.limits == LIMITS
