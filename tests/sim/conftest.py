"""Fixtures shared by the emulated firmware tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .test_firmware_protocols import Bench


@pytest.fixture
def money() -> Iterator[Bench]:
    """The single-phase DL/T 645 money meter on its own pty, closed after the test."""
    b = Bench("dlt645-1p-money")
    try:
        yield b
    finally:
        b.close()
