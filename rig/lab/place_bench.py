"""A lab place's exported resources turned into a bench config, and its safe state.

A bench host exports each bench as one exporter group named like its place (see
`rig.lab.exporter_config`): `meter` (ser2net's RFC 2217 port), `load` (RigVisaLoad: a VISA
resource the host makes reachable), `card` (RigCardRelay: the card writer's relay), `bench`
(RigBench: kind, profile, meter address) and, for an emulated bench, `sim` (RigSimControl: the
`rig sim` control channel). Everything else — the billing centre, the operator, the station —
comes from the job's own bench config, so every place a job gets names the same centre.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rig.bench.config import BenchConfig
from rig.lab.coordinator import LabError, Resource

REQUIRED = ("meter", "load", "card", "bench")


def bench_config_for(place: str, resources: Mapping[str, Resource],
                     base: BenchConfig) -> BenchConfig:
    """`base` (the job's config: billing, operator, station) on the parts of `place`."""
    missing = [name for name in REQUIRED if name not in resources]
    if missing:
        raise LabError(f"place {place} lacks the resource(s) {', '.join(missing)} "
                       f"(has: {', '.join(sorted(resources)) or 'none'}); is it a rig bench?")
    gone = sorted(name for name, r in resources.items() if not r.avail)
    if gone:
        raise LabError(f"place {place}: resource(s) {', '.join(gone)} not available on "
                       f"exporter {resources[gone[0]].exporter}")
    meter, load, card, bench = (resources[n].params for n in REQUIRED)
    kind = str(bench.get("kind", "emulated"))
    data: dict[str, Any] = base.model_dump() | {"kind": kind, "profile": bench["profile"],
                                                "source": base.source}
    data["meter"] = {**data["meter"], "port": rfc2217_url(place, meter),
                     "address": bench.get("address") or None}
    data["load"] = {**data["load"], "resource": load["resource"]}
    data["card"] = {**data["card"], "reader": card["url"]}
    if kind == "emulated":
        if "sim" not in resources:
            raise LabError(f"place {place} is an emulated bench without its sim resource")
        data["sim_control"] = resources["sim"].params["url"]
        data["time_scale"] = float(bench.get("time_scale", base.time_scale))
    else:
        data |= {"time_scale": 1.0, "epoch": None, "sim_control": None}
    try:
        return BenchConfig.model_validate(data)
    except ValueError as e:
        raise LabError(f"place {place}: its resources do not make a bench: {e}") from None


def rfc2217_url(place: str, params: Mapping[str, Any]) -> str:
    """The pyserial URL of a NetworkSerialPort (ser2net speaks RFC 2217 to it)."""
    host, port = params.get("host"), params.get("port")
    if not host or not port:
        raise LabError(f"place {place}: the meter port is not exported yet (ser2net has no "
                       "port: is the exporter running?)")
    # ser2net does not acknowledge modem-control settings on a pty; labgrid ignores them too
    return f"rfc2217://{host}:{port}?ign_set_control"


def make_safe(place: str, config: BenchConfig) -> bool:
    """Switch the place's load input off and read it back; True if it reads off.

    Done when a job gets a place (whoever used it last may have died with the load on) and
    when it gives it back; the load is reached directly, so this works with the exporter
    gone. Never raises: the caller says what it found.
    """
    from rig.load.driver import ElectronicLoad

    resource = config.load.resource or ""
    try:
        with ElectronicLoad.open(resource, dialect=config.load.dialect,
                                 backend=config.load.backend) as load:
            load.safe_state()
            return not load.input_state()
    except Exception:  # pyvisa's own errors too: unreachable means not confirmed off
        return False
