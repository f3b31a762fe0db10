"""The ESAM dialogue of remote prepayment: each DL/T 645 security command the emulated meter
answers goes through its ESAM's command interface, into the bench's APDU trace with the
cryptograms and key packages cut (docs/esam.md, "Trace")."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from rig.card.trace import ApduTrace
from rig.esam.keys import KeyId, KeyState
from rig.esam.link import ESAM_TERMINAL
from rig.profile import load_profile
from rig.sim.emulated_bench import EmulatedBench
from tests.sim.test_meter_security import CUSTOMER, Bench


@pytest.fixture
def traced() -> Iterator[tuple[Bench, ApduTrace]]:
    b = Bench()
    trace = ApduTrace()
    b.meter.esam_trace = trace
    try:
        yield b, trace
    finally:
        b.close()


def test_a_remote_purchase_and_key_update_show_their_esam_dialogue(
        traced: tuple[Bench, ApduTrace]) -> None:
    b, trace = traced
    esam = b.meter.esam
    assert esam is not None
    keys_before = [k for _, k in esam.to_image()["keys"].values()]
    with b.office.session() as s:
        s.purchase(2000, 1, CUSTOMER, open_account=True)
    b.office.update_keys(KeyState.PRIVATE)
    assert esam.key_state is KeyState.PRIVATE

    assert {e.terminal for e in trace.entries} == {ESAM_TERMINAL}
    names = [e.name for e in trace.entries]
    for name in ("ESAM IDENTITY AUTHENTICATE", "ESAM SESSION MAC", "ESAM READ WALLET",
                 "ESAM CREDIT", "ESAM KEY UPDATE", "ESAM END SESSION"):
        assert name in names
    identity = next(e for e in trace.entries if e.name == "ESAM IDENTITY AUTHENTICATE")
    assert (identity.command.hex().upper(), identity.response.hex().upper()) == (
        "80080000180C", "9000")  # cipher, randoms and serial cut
    assert (identity.command_redacted, identity.response_redacted) == (24, 12)
    credit = next(e for e in trace.entries if e.name == "ESAM CREDIT")
    assert credit.command.hex().upper() == "804201000E000007D000000001" + CUSTOMER
    stages = [e for e in trace.entries if e.name == "ESAM KEY UPDATE" and e.command[2] != 2]
    assert len(stages) == len(KeyId) and all(e.command_redacted == 32 for e in stages)

    text = json.dumps([e.to_json() for e in trace.entries]).lower()
    for key in keys_before + [k for _, k in esam.to_image()["keys"].values()]:
        assert key not in text


def test_the_emulated_bench_gives_its_trace_to_the_meters_esam() -> None:
    profile = load_profile(str(Path(__file__).parent / "profiles" /
                               "dlt645-1p-esam-remote.toml"))
    trace = ApduTrace()
    assert EmulatedBench(profile, noise=False, apdu_trace=trace).meter.esam_trace is trace
