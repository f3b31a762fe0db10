"""Billing tests run on both backends the billing centre supports: SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.billing.postgres_db import scratch_postgres


@pytest.fixture(params=["sqlite", "postgresql"])
def billing_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh billing database URL: a new SQLite file, or a scratch PostgreSQL database
    cloned from the migrated template (no rows; tests/billing/postgres_db.py).

    Without a reachable PostgreSQL the PostgreSQL half is skipped on a workstation and fails
    under CI, where ./setup.sh must have started one.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'billing.sqlite'}"
        return
    with scratch_postgres("rig_test", migrated=True) as url:
        yield url

