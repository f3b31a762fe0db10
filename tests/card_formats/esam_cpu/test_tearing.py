"""The esam-cpu tearing campaign: no credit lost or doubled at any cut (docs/faults.md)."""

from rig.card_formats.esam_cpu import tearing
from rig.profile import load_profile
from rig.sim.prepaid import PrepaidEngine


def _wallet() -> PrepaidEngine:
    return PrepaidEngine(load_profile("dlt645-1p-cpu-card"))


def test_purchase_write_torn_before_every_command_loses_and_doubles_nothing() -> None:
    f = tearing.purchase_write_campaign(_wallet)
    assert f.cases >= 8  # select, serial, application, card information, return, auth, write
    assert (f.lost, f.duplicated, f.unrecovered) == (0, 0, 0)


def test_meter_session_torn_before_every_command_loses_and_doubles_nothing() -> None:
    f = tearing.meter_session_campaign(_wallet)
    assert f.cases >= 15  # the whole insertion, the return-write with MAC last
    assert (f.lost, f.duplicated, f.unrecovered) == (0, 0, 0)
