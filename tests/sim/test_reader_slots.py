"""Which reader driver, port and PC/SC name a virtual card slot has (rig/sim/vpcd.py): the one
place setup.sh's reader.conf.d entries, the virtual card and the station must agree on."""

from __future__ import annotations

import pytest

from rig.errors import ConfigError
from rig.sim import vpcd
from rig.sim.vpcd import VpcdSlot, reader_kind, reader_name


def test_rig_readers_are_one_slot_each_on_their_own_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIG_READERS", "vreader")
    monkeypatch.delenv("RIG_VREADER_BASE_PORT", raising=False)
    assert [(VpcdSlot(i).port, VpcdSlot(i).reader_name) for i in (0, 3, 7)] == [
        (35971, "rig vreader 0 00 00"), (35974, "rig vreader 3 03 00"),
        (35978, "rig vreader 7 07 00")]
    monkeypatch.setenv("RIG_VREADER_BASE_PORT", "36071")  # a private pcscd's readers
    assert (VpcdSlot(2).port, VpcdSlot(2).reader_name) == (36073, "rig vreader 2 02 00")


def test_vpcd_readers_keep_their_ports_and_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIG_READERS", "vpcd")
    monkeypatch.setenv("RIG_VREADER_BASE_PORT", "36071")  # only moves rig's readers
    assert [(VpcdSlot(i).port, VpcdSlot(i).reader_name) for i in (0, 1, 2, 7)] == [
        (35963, "Virtual PCD 00 00"), (35964, "Virtual PCD 00 01"),
        (35965, "rig vpcd 1 00 00"), (35970, "rig vpcd 3 00 01")]


def test_auto_takes_rig_readers_only_where_pcscd_offers_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIG_READERS", "auto")
    monkeypatch.setattr(vpcd, "_pcscd_has_vreaders", lambda: True)
    assert reader_kind() == "vreader"
    assert reader_name(1) == "rig vreader 1 01 00"
    monkeypatch.setattr(vpcd, "_pcscd_has_vreaders", lambda: False)
    assert reader_kind() == "vpcd"
    assert reader_name(1) == "Virtual PCD 00 01"


@pytest.mark.parametrize(("name", "value", "message"), [
    ("RIG_READERS", "vpdc", r"RIG_READERS='vpdc': expected one of auto, vreader, vpcd"),
    ("RIG_VREADER_BASE_PORT", "http", r"RIG_VREADER_BASE_PORT='http': expected a TCP port"),
    ("RIG_VREADER_BASE_PORT", "80", r"RIG_VREADER_BASE_PORT='80': expected a TCP port"),
])
def test_a_bad_setting_is_one_clear_line(monkeypatch: pytest.MonkeyPatch, name: str,
                                         value: str, message: str) -> None:
    monkeypatch.setenv("RIG_READERS", "vreader")
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        VpcdSlot(0)
