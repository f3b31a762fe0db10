"""Billing tests run on both backends the billing centre supports: SQLite and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from rig.billing.postgres import reachable, scratch_database


@pytest.fixture(params=["sqlite", "postgresql"])
def billing_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty billing database URL: a SQLite file, or a scratch PostgreSQL database.

    Without a reachable PostgreSQL the PostgreSQL half is skipped on a workstation and fails
    under CI, where ./setup.sh must have started one.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'billing.sqlite'}"
        return
    why = reachable()
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    with scratch_database(prefix="rig_test") as url:
        yield url

