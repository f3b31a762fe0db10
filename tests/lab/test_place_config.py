"""A place's exported resources become the job's bench: the job's billing centre and
operator on the place's parts; what is missing or broken is one line naming the place."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from rig.bench.config import BenchConfig, load_bench_config
from rig.lab.bench_file import write_bench_file
from rig.lab.coordinator import LabError, Resource
from rig.lab.job import place_filter
from rig.lab.place_bench import bench_config_for


def _resources(**changes: dict[str, object]) -> dict[str, Resource]:
    params: dict[str, dict[str, object]] = {
        "meter": {"host": "bench-host-1", "port": 40001, "speed": 2400},
        "load": {"resource": "TCPIP0::bench-host-1::5025::SOCKET"},
        "card": {"url": "rigcard://bench-host-1:40002"},
        "sim": {"url": "tcp://bench-host-1:40003"},
        "bench": {"kind": "emulated", "profile": "iec62056-1p-energy", "time_scale": 600.0},
    } | changes
    classes = {"meter": "NetworkSerialPort", "load": "RigVisaLoad", "card": "RigCardRelay",
               "sim": "RigSimControl", "bench": "RigBench"}
    return {name: Resource(name, classes[name], p, True, "host-a")
            for name, p in params.items()}


BASE = BenchConfig.model_validate({
    "station_id": "CI-1", "operator": "ci", "billing": {"url": "http://billing.lab:8000",
                                                        "token_file": "/etc/rig/admin.token"}})


def test_the_job_keeps_its_centre_and_gets_the_places_parts() -> None:
    config = bench_config_for("bench-07", _resources(), BASE)
    assert config.billing == BASE.billing and config.station_id == "CI-1"
    assert config.operator == "ci"
    assert config.profile == "iec62056-1p-energy" and config.kind == "emulated"
    assert config.meter.port == "rfc2217://bench-host-1:40001?ign_set_control"
    assert config.load.resource == "TCPIP0::bench-host-1::5025::SOCKET"
    assert config.card.reader == "rigcard://bench-host-1:40002"
    assert config.sim_control == "tcp://bench-host-1:40003"
    assert config.time_scale == 600.0


def test_a_real_place_runs_in_real_time_without_a_sim() -> None:
    real = _resources(bench={"kind": "real", "profile": "dlt645-1p-money",
                             "address": "000012345678"})
    del real["sim"]
    base = BASE.model_copy(update={"card": BASE.card.model_copy(update={"courier": "prompt"})})
    config = bench_config_for("bench-01", real, base)
    assert (config.kind, config.time_scale, config.sim_control) == ("real", 1.0, None)
    assert config.meter.address == "000012345678"


@pytest.mark.parametrize(("change", "message"), [
    ({"drop": "load"}, "place bench-03 lacks the resource(s) load (has: bench, card, meter, "
                       "sim); is it a rig bench?"),
    ({"drop": "sim"}, "place bench-03 is an emulated bench without its sim resource"),
    ({"meter": {"host": "h", "port": None}}, "place bench-03: the meter port is not exported "
                                             "yet"),
    ({"unavailable": "card"}, "place bench-03: resource(s) card not available on exporter "
                              "host-a"),
])
def test_a_place_that_is_no_bench_is_one_line_naming_it(change: dict[str, object],
                                                        message: str) -> None:
    resources = _resources(**{k: v for k, v in change.items()  # type: ignore[arg-type]
                              if k not in ("drop", "unavailable")})
    if "drop" in change:
        del resources[str(change["drop"])]
    if "unavailable" in change:
        r = resources[str(change["unavailable"])]
        resources[r.name] = Resource(r.name, r.cls, r.params, False, r.exporter)
    with pytest.raises(LabError) as e:
        bench_config_for("bench-03", resources, BASE)
    assert str(e.value).startswith(message)


def test_place_spec_is_a_name_or_tags() -> None:
    assert place_filter("bench-01") == {"rig_place": "bench-01"}
    assert place_filter("profile=dlt645-1p-money,bench=emulated") == {
        "profile": "dlt645-1p-money", "bench": "emulated"}
    for bad in ("", "profile=", "Profile=x", "a=b,,c=d"):
        with pytest.raises(LabError, match="--place"):
            place_filter(bad)


def test_bench_file_gives_the_config_back(tmp_path: Path) -> None:
    config = bench_config_for("bench-07", _resources(), BASE.model_copy(update={
        "epoch": datetime(2026, 3, 4, 8, tzinfo=UTC)}))
    again = load_bench_config(write_bench_file(config, tmp_path / "place.toml"))
    assert again.model_dump() == config.model_dump()
