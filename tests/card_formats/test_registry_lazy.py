"""Naming a card format does not import it, and a format's object does not import the card
driver beneath it: `rig profiles` validates every profile's `[card]` section (format name and
options) without loading cards, ESAMs or their cryptography. Checked in a fresh interpreter,
where nothing else has imported them yet."""

from __future__ import annotations

import json
import subprocess
import sys

from rig.card.keys import lab_test_key
from rig.card.readback_format import RIG_V1
from rig.card_formats.esam_cpu.card import VirtualEsamCpuCard
from rig.card_formats.interface import MasterKeys
from rig.card_formats.registry import card_format
from rig.card_formats.sle4442.writer import SLE4442Writer
from rig.meter.dlt645.client import Dlt645Client
from rig.meter.iec62056.client import Iec62056Client
from rig.meter.protocols import PROTOCOLS

# the card, ESAM, STS and meter drivers, and the interface's data classes
DRIVERS = ("rig.card", "rig.card.session", "rig.card_formats.interface", "rig.esam.esam",
           "rig.esam.crypto", "rig.sts.keys", "rig.meter.dlt645.client",
           "rig.meter.iec62056.client", "cryptography", "smartcard", "serial")


def _imported_after(code: str) -> dict[str, list[str]]:
    probe = (f"import json, sys\n{code}\n"
             "print(json.dumps({'drivers': [m for m in %r if m in sys.modules], "
             "'formats': sorted(m for m in sys.modules if m.endswith('.format') "
             "and m.startswith('rig.card_formats.'))}))" % (DRIVERS,))
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=120, check=True)
    found: dict[str, list[str]] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_listing_the_format_names_imports_no_format() -> None:
    found = _imported_after("from rig.card_formats import registry\n"
                            "assert {'rigpp', 'sle4442', 'esam-cpu'} <= set(registry.names())")
    assert found == {"drivers": [], "formats": []}


def test_one_format_asked_for_is_the_only_one_imported() -> None:
    found = _imported_after("from rig.card_formats.registry import card_format\n"
                            "card_format('sle4442')")
    assert found["formats"] == ["rig.card_formats.sle4442.format"]


def test_validating_every_shipped_profile_loads_no_card_driver() -> None:
    found = _imported_after("from rig.profile import available_profiles, load_profile\n"
                            "for name in available_profiles(): load_profile(name)")
    assert found["drivers"] == []


def test_the_light_format_objects_still_name_and_make_their_parts() -> None:
    """What the formats now import on use is what they imported at load before."""
    assert card_format("rigpp").readback_format == RIG_V1.name
    keys = MasterKeys(lab_test_key())
    writer = card_format("sle4442").station_writer(keys, options={"dialect": "omnikey"})
    assert isinstance(writer, SLE4442Writer) and writer.dialect == "omnikey"
    assert isinstance(card_format("esam-cpu").blank_card(), VirtualEsamCpuCard)


def test_a_protocol_names_its_client_class() -> None:
    assert PROTOCOLS["dlt645-2007"].client is Dlt645Client
    assert PROTOCOLS["iec62056-21"].client is Iec62056Client
