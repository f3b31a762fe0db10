"""Non-volatile memory of the emulated meter: what survives a power cycle, as bytes.

A real meter saves its registers to EEPROM when its power-fail detector fires (the supply
capacitor holds the CPU up long enough) and reloads them at power-up. The emulated meter does
the same through this module: the image is plain JSON bytes, and restoring it overwrites every
field of the engine, so nothing survives a power cycle by accident of living in a Python object.
Every dataclass field of the engine and its event log is saved; a field of a type this module
cannot store is a TypeError at the first power-down, not a silently volatile register.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from rig.profile import MeterProfile
from rig.sim.prepaid import EventLog, PrepaidEngine, RelayReason

Image = dict[str, Any]


def _encode(value: object, where: str) -> object:
    """Tagged JSON scalars: Decimal and datetime keep their exact value."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return {"f": value.hex()}  # bit-exact
    if isinstance(value, Decimal):
        return {"d": str(value)}
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, str):  # includes StrEnum members
        return {"s": str(value)}
    raise TypeError(f"{where}: {type(value).__name__} cannot be kept in non-volatile memory")


def _decode(value: object) -> object:
    if not isinstance(value, dict):
        return value
    (tag, text), = value.items()
    return {"f": float.fromhex, "d": Decimal, "t": datetime.fromisoformat, "s": str}[tag](text)


def engine_image(engine: PrepaidEngine) -> Image:
    """Every field of the engine (the profile as its thresholds, the only part that changes)."""
    image: Image = {}
    for f in dataclasses.fields(engine):
        value = getattr(engine, f.name)
        if f.name == "profile":
            levels = value.thresholds.model_dump(mode="json")  # sets become sorted lists:
            image["thresholds"] = {k: sorted(v) if isinstance(v, list) else v  # same bytes
                                   for k, v in levels.items()}  # whatever the hash seed
        elif f.name == "events":
            image["events"] = {e.name: _encode(getattr(value, e.name), f"events.{e.name}")
                               for e in dataclasses.fields(value)}
        else:
            image[f.name] = _encode(value, f.name)
    return image


def restore_engine(engine: PrepaidEngine, image: Image, factory: MeterProfile) -> None:
    """Overwrite every field of ``engine`` from ``image`` (the factory profile + saved levels)."""
    engine.profile = factory
    for f in dataclasses.fields(engine):
        if f.name == "profile":
            engine.set_thresholds(**image["thresholds"])  # validated as a profile's are
        elif f.name == "events":
            engine.events = EventLog(**{k: _decode(v) for k, v in image["events"].items()})
        elif f.name == "relay_reason":
            engine.relay_reason = RelayReason(_decode(image[f.name]))
        else:
            setattr(engine, f.name, _decode(image[f.name]))


def wipe(engine: PrepaidEngine, factory: MeterProfile) -> None:
    """RAM lost: every field back to a freshly built engine's value."""
    fresh = PrepaidEngine(factory)
    for f in dataclasses.fields(engine):
        setattr(engine, f.name, getattr(fresh, f.name))


def dumps(image: Image) -> bytes:
    return json.dumps(image, sort_keys=True, separators=(",", ":")).encode()


def loads(raw: bytes) -> Image:
    image = json.loads(raw)
    if not isinstance(image, dict):
        raise ValueError("non-volatile memory image is not a JSON object")
    return image


def encode_value(value: object, where: str) -> object:
    """Public tagged encoding for the firmware's own saved fields."""
    return _encode(value, where)


def decode_value(value: object) -> object:
    return _decode(value)
