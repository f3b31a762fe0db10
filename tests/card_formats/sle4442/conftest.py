"""Shared parts of the SLE 4442 tests: the real prepaid engine (a MeterWallet), an
in-process card slot, and the lab test keys."""

import pytest

from rig.card.keys import lab_test_key
from rig.card_formats.interface import MasterKeys
from rig.card_formats.sle4442.card import WriterSlot as Slot  # noqa: F401 (the tests' slot)
from rig.profile import load_profile
from rig.sim.prepaid import PrepaidEngine

METER = "000000001001"


@pytest.fixture
def keys() -> MasterKeys:
    return MasterKeys(lab_test_key())


def engine_wallet(profile: str = "dlt645-1p-money") -> PrepaidEngine:
    """The real prepaid engine, a MeterWallet itself."""
    return PrepaidEngine(load_profile(profile))


@pytest.fixture
def wallet() -> PrepaidEngine:
    return engine_wallet()
