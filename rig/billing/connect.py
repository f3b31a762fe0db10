"""A billing centre by URL: a local database, or a served centre over HTTP.

Apart from :mod:`rig.billing.remote` so that a run on a local database does not import the
HTTP client and the REST API's schemas it parses replies with.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from rig.errors import BillingError

if TYPE_CHECKING:
    from rig.billing.audit_key import AuditConfig
    from rig.billing.centre import BillingCentre
    from rig.billing.remote import RemoteBillingCentre


TOKEN_ENV = "RIG_BILLING_TOKEN"


def connect_billing(
    url: str,
    *,
    token: str | None = None,
    token_file: Path | None = None,
    clock: Callable[[], datetime] | None = None,
    audit: AuditConfig | None = None,
) -> BillingCentre | RemoteBillingCentre:
    """A billing centre by URL: ``http(s)://…`` is a served one, anything else a database
    (``audit``: its audit key and anchor, default from the environment).

    A served centre needs a token: ``token``, else the first line of ``token_file``, else
    ``$RIG_BILLING_TOKEN`` (so a secret need not sit in a bench TOML). It keeps its own clock;
    ``clock`` only drives a local database.
    """
    if not url.startswith(("http://", "https://")):
        from rig.billing.centre import open_billing

        return open_billing(url, clock=clock, audit=audit)
    if token is None and token_file is not None:
        try:
            token = token_file.read_text().strip().splitlines()[0]
        except (OSError, IndexError) as e:
            raise BillingError(f"billing token file {token_file}: cannot read a token ({e})") \
                from None
    token = token or os.environ.get(TOKEN_ENV)
    if not token:
        raise BillingError(f"billing centre {url} needs an API token: set billing.token_file "
                           f"in the bench config or ${TOKEN_ENV}")
    from rig.billing.remote import RemoteBillingCentre

    return RemoteBillingCentre(url, token)
