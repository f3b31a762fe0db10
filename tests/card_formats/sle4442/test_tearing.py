"""A write cut at every byte position on the SLE 4442 format: no credit lost or doubled,
through the real prepaid engine."""

import pytest

from rig.card_formats.sle4442 import tearing

from .conftest import engine_wallet as _wallet


@pytest.mark.parametrize("dialect", ["acs", "omnikey"])
def test_purchase_write_torn_at_every_byte(dialect) -> None:
    f = tearing.purchase_write_campaign(_wallet, dialect)
    assert (f.cases, f.lost, f.duplicated, f.unrecovered) == (32, 0, 0, 0)


def test_readback_write_torn_at_every_byte() -> None:
    f = tearing.readback_write_campaign(_wallet)
    assert (f.cases, f.lost, f.duplicated, f.unrecovered) == (64, 0, 0, 0)
