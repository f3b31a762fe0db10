"""Lab tests: one billing centre on PostgreSQL shared by many stations and benches."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.billing.postgres_db import scratch_postgres


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A scratch PostgreSQL database (skipped without a server, failed under CI)."""
    with scratch_postgres("rig_lab") as url:
        yield url
