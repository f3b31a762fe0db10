"""Lab tests: one billing centre on PostgreSQL shared by many stations and benches."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from rig.billing.postgres import reachable, scratch_database


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A scratch PostgreSQL database (skipped without a server, failed under CI)."""
    why = reachable()
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    with scratch_database(prefix="rig_lab") as url:
        yield url
