"""The protocol registry (rig.meter.protocols) is the one place that knows a protocol: a
profile's kind is checked against it, and a new protocol on a known wire is one entry that
profile loading, the rig's client and the emulated meter all follow."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from datetime import UTC
from pathlib import Path

import pytest

from rig.errors import ConfigError
from rig.meter.client import Dlt645MeterClient, IecMeterClient, open_meter
from rig.meter.protocols import PROTOCOLS, Wire, protocol_named
from rig.profile import MeterProfile, available_profiles, load_profile
from rig.sim.emulated_bench import lab_master_key
from rig.sim.meter_firmware import EmulatedMeter
from rig.sim.pty_port import PtySerialEndpoint
from rig.sim.world import BenchWorld
from tests.sim.test_firmware_protocols import HandClock

VARIANT = "dlt645-2007-remote"  # e.g. a future DL/T 645 remote-prepayment meter


@pytest.fixture
def variant_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = dataclasses.replace(PROTOCOLS["dlt645-2007"], kind=VARIANT,
                                title="DL/T 645-2007 remote prepayment")
    monkeypatch.setitem(PROTOCOLS, VARIANT, entry)


def _as_variant(profile: MeterProfile) -> MeterProfile:
    data = profile.model_dump()
    data["protocol"]["kind"] = VARIANT
    return MeterProfile.model_validate(data)


def test_every_shipped_profile_names_a_registered_protocol() -> None:
    for name in available_profiles():
        assert load_profile(name).protocol.spec is PROTOCOLS[load_profile(name).protocol.kind]


def test_an_unknown_kind_is_refused_naming_the_registered_ones(tmp_path: Path) -> None:
    src = load_profile("dlt645-1p-money").source
    assert src is not None
    bad = tmp_path / "m.toml"
    bad.write_text(src.read_text().replace('kind = "dlt645-2007"', 'kind = "modbus"'))
    with pytest.raises(ConfigError, match=r"protocol\.kind.*'modbus'.*dlt645-2007, "
                                          r"iec62056-21"):
        load_profile(str(bad))
    with pytest.raises(ValueError, match="unknown protocol 'modbus'"):
        protocol_named("modbus")


def test_no_module_outside_the_registry_compares_protocol_kind_strings() -> None:
    rig_dir = Path(__file__).resolve().parents[2] / "rig"
    found = subprocess.run(
        ["grep", "-rlE", "--include=*.py", "dlt645-2007|iec62056-21", str(rig_dir)],
        capture_output=True, text=True, check=False).stdout.split()
    assert [Path(f).relative_to(rig_dir).as_posix() for f in found] == ["meter/protocols.py"]


@pytest.mark.usefixtures("variant_registered")
def test_a_variant_entry_loads_with_its_wires_register_map_and_settings() -> None:
    base = load_profile("dlt645-1p-money")
    variant = _as_variant(base)
    assert variant.protocol.spec.wire is Wire.DLT645
    assert variant.register_map == base.register_map
    assert variant.protocol.own_settings == base.protocol.own_settings
    with pytest.raises(ValueError, match="iec62056: settings given for a dlt645-2007-remote"):
        data = variant.model_dump()
        data["protocol"]["iec62056"] = {}
        MeterProfile.model_validate(data)


@pytest.mark.usefixtures("variant_registered")
def test_a_variant_entry_is_served_by_the_emulated_meter_and_read_by_the_rig() -> None:
    profile = _as_variant(load_profile("dlt645-1p-money"))
    world = BenchWorld(profile, HandClock(), noise=False)  # type: ignore[arg-type]
    meter = EmulatedMeter(world, lab_master_key())
    pty = PtySerialEndpoint(meter.on_serial_bytes)
    path = pty.start()
    try:
        with open_meter(profile, path, parity="N", tz=UTC) as client:
            assert isinstance(client, Dlt645MeterClient)
            assert client.read_address() == profile.protocol.address
            assert client.remaining_credit() == meter.engine.remaining
    finally:
        pty.stop()


def test_each_wire_is_read_by_its_own_semantic_client() -> None:
    for name, reader in (("dlt645-1p-money", Dlt645MeterClient),
                         ("iec62056-1p-energy", IecMeterClient)):
        profile = load_profile(name)
        world = BenchWorld(profile, HandClock(), noise=False)  # type: ignore[arg-type]
        pty = PtySerialEndpoint(EmulatedMeter(world, lab_master_key()).on_serial_bytes)
        try:
            with open_meter(profile, pty.start(), parity="N") as client:
                assert type(client) is reader
        finally:
            pty.stop()


def test_importing_the_registry_does_not_import_pyserial() -> None:
    code = "import sys, rig.meter.protocols; print('serial' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"
