"""The virtual card survives a restart: memory, life cycle and try counters."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from rig.card.apdu import StatusWordError
from rig.card.application import KEY_STATION
from rig.card.session import CardSession, DirectTransport
from rig.errors import CardError
from rig.faults.card_world import NOW, SERIAL, make_world
from rig.sim.virtual_card import VirtualCard


def test_saved_card_keeps_credit_keys_and_blocked_state(tmp_path: Path) -> None:
    w = make_world()
    w.station.write_vend(w.slot(), w.vend(1, 2500))
    s = CardSession(w.slot())
    with pytest.raises(StatusWordError, match="63C2"):
        s.authenticate(KEY_STATION, bytes(16), SERIAL)
    path = tmp_path / "card.json"
    VirtualCard(w.card).save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    restored = VirtualCard.load(path)
    assert restored.app.to_dict() == w.card.to_dict()
    assert restored.app.tries[KEY_STATION] == 2 and restored.app.operational
    outcome = w.terminal.insert(DirectTransport(restored.app), NOW)
    assert outcome.applied_sequence == 1  # the purchase written before the restart


def test_load_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": 1, "card": {"efs": {"0101": "zz"}}, "atr": "3b"}')
    with pytest.raises(CardError, match=r"bad\.json: not a saved card"):
        VirtualCard.load(bad)
    with pytest.raises(CardError, match=r"missing\.json: cannot read"):
        VirtualCard.load(tmp_path / "missing.json")
