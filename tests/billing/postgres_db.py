"""A scratch PostgreSQL database for a test, or the reason there is none."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from rig.billing.postgres import reachable, scratch_database


@contextmanager
def scratch_postgres(prefix: str) -> Iterator[str]:
    """A fresh database's URL, dropped afterwards. Without a reachable server the test is
    skipped on a workstation and fails under CI, where ./setup.sh must have started one."""
    why = reachable()
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    with scratch_database(prefix=prefix) as url:
        yield url
