"""The keypad channel of the emulated bench, as the rig drives it: a token typed through the
control channel lands in the meter once; a real bench's keypad actuator is a command."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from rig.bench.control import ControlClient
from rig.bench.keypad import CommandKeypad, EmulatedKeypad
from rig.errors import RigError
from rig.profile import load_profile
from rig.sim.emulated_bench import EmulatedBench
from rig.sim.sts_keypad import StsMeterSetup
from tests.sts import vectors as v
from tests.sts.test_conformance import dk02


def test_token_through_the_control_channel_is_credited_once() -> None:
    token = v.CREDIT_STA[-1][-1]  # CTSA10 step 9: 1 820 162.4 kWh, the field's maximum
    with EmulatedBench(load_profile("iec62056-1p-energy"), time_scale=3600.0,
                       sts=StsMeterSetup(dk02())) as bench:
        assert bench.parts is not None
        control = ControlClient(bench.parts.control)
        try:
            keypad = EmulatedKeypad(control)
            # more than the profile's hoarding limit (999.999 kWh): refused, nothing added
            over = keypad.enter(token)
            assert (over.display, over.accepted) == ("Overflow", False)
            first = keypad.enter(v.CREDIT_STA[0][-1])  # 0.1 kWh
            assert (first.display, first.accepted, first.credit) == ("Accept", True, "0.1")
            assert bench.world.engine.remaining == Decimal("0.1")
            again = keypad.enter(v.CREDIT_STA[0][-1])
            assert (again.display, again.accepted) == ("Used", False)
            assert bench.world.engine.cumulative_purchase == Decimal("0.1")
        finally:
            control.close()


def test_a_meter_without_sts_refuses_the_keypad_op() -> None:
    with EmulatedBench(load_profile("dlt645-1p-money"), time_scale=3600.0) as bench:
        assert bench.parts is not None
        control = ControlClient(bench.parts.control)
        try:
            with pytest.raises(RigError, match="no STS keypad"):
                EmulatedKeypad(control).enter(v.CREDIT_STA[0][-1])
        finally:
            control.close()


def test_keypad_actuator_command_reads_the_display(tmp_path: Path) -> None:
    actuator = tmp_path / "keypad"
    actuator.write_text('#!/bin/sh\n[ ${#1} -eq 20 ] || { echo "bad token" >&2; exit 3; }\n'
                        'echo Accept\n')
    actuator.chmod(0o755)
    assert CommandKeypad(str(actuator)).enter(v.CREDIT_STA[0][-1]).display == "Accept"
    with pytest.raises(RigError, match=r"keypad actuator .* exited 3: bad token"):
        CommandKeypad(str(actuator)).enter("123")


def test_a_profile_with_sts_makes_a_keypad_meter_with_the_lab_key() -> None:
    """iec62056-1p-energy declares [sts] (PAN 600727000000000009, SGC 123456): its emulated
    meter takes the STS 531-1 CTSA01 token, whose decoder key the lab vending key gives."""
    with EmulatedBench(load_profile("iec62056-1p-energy"), time_scale=3600.0) as bench:
        assert bench.parts is not None and bench.keypad is not None
        control = ControlClient(bench.parts.control)
        try:
            entry = EmulatedKeypad(control).enter(v.CREDIT_STA[0][-1])
            assert (entry.display, entry.credit) == ("Accept", "0.1")
        finally:
            control.close()


def test_a_bad_sts_section_is_one_line_naming_the_field(tmp_path: Path) -> None:
    from rig.errors import ConfigError
    from rig.profile import load_profile as load

    shipped = Path(load("iec62056-1p-energy").source or "")
    bad = tmp_path / "bad-sts.toml"
    bad.write_text(shipped.read_text().replace('pan = "600727000000000009"', 'pan = "12345"'))
    with pytest.raises(ConfigError) as refused:
        load(str(bad))
    message = str(refused.value)
    assert "sts.pan" in message and "\n" not in message
