"""A card format written outside rig/ (tests/plugins/toycard, installed for these tests by
the toy_installed fixture and found only through its entry points) runs the whole prepaid
cycle: issue, vend, insert, consume, readback upload and a balanced reconciliation of a
readback the centre verified. That is the card-format boundary: the station, the emulated
meter, the virtual card and the centre's readback check take the format from the profile,
and nothing in rig/ names it."""

from __future__ import annotations

import subprocess
from decimal import Decimal
from importlib.resources import as_file
from pathlib import Path

import pytest

from rig.bench.config import BenchConfig
from rig.card_formats import registry
from rig.card_formats.registry import names
from rig.errors import CardError, ConfigError
from rig.profile import load_profile, shipped_profiles
from rig.report import record_schema
from rig.scenarios.prepaid_cycle import PHASES, CycleParams
from rig.scenarios.runner import run_prepaid_cycle
from rig.sim.virtual_card import VirtualCard

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("toy_installed")
TOY_ATR = "3B8301544F59"  # make_atr(b"TOY") without its TCK


def profile_with_card(tmp_path: Path, card: str, name: str = "toy-1p-money") -> Path:
    """The shipped DL/T 645 money profile with another [card] section, as a user profile."""
    with as_file(shipped_profiles() / "dlt645-1p-money.toml") as src:
        text = src.read_text(encoding="utf-8")
    head, _, rest = text.partition("[card]\n")
    tail = rest.split("\n[", 1)
    body = head + card + ("\n[" + tail[1] if len(tail) > 1 else "\n")
    path = tmp_path / f"{name}.toml"
    path.write_text(body.replace('name = "dlt645-1p-money"', f'name = "{name}"'),
                    encoding="utf-8")
    return path


def test_the_toy_format_is_installed_and_rig_never_names_it() -> None:
    assert "toycard" in names()
    found = subprocess.run(["grep", "-rIl", "toycard", str(ROOT / "rig")],
                           capture_output=True, text=True, check=False)
    assert found.stdout == "", f"rig/ names the toy format: {found.stdout}"


def test_an_unknown_format_names_the_profile_file_and_the_installed_ones(
        tmp_path: Path) -> None:
    path = profile_with_card(tmp_path, '[card]\nformat = "sle9999"\n')
    with pytest.raises(ConfigError) as e:
        load_profile(str(path))
    assert str(path) in str(e.value)
    assert "no card format 'sle9999' is installed (installed: rigpp, sle4442, toycard" in \
        str(e.value)


def test_an_option_the_format_lacks_is_refused(tmp_path: Path) -> None:
    path = profile_with_card(tmp_path, '[card]\nformat = "rigpp"\n[card.options]\n'
                                       'dialect = "acs"\n')
    with pytest.raises(ConfigError, match="card format 'rigpp' has no option 'dialect' "
                                          r"\(its options: none\)"):
        load_profile(str(path))


@pytest.mark.bench
def test_the_prepaid_cycle_runs_on_the_toy_card(tmp_path: Path) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    profile_with_card(profiles, '[card]\nformat = "toycard"\nkey_revision = 1\n')
    config = BenchConfig(profile="toy-1p-money", profiles_dir=profiles, time_scale=36000.0)
    params = CycleParams(amount=Decimal("20.00"), power_w=Decimal(2000))
    run = run_prepaid_cycle(config, params=params, run_dir=tmp_path / "run", use_allure=False)
    if run.error is not None:
        raise run.error
    assert [s.name for s in run.record.steps] == PHASES
    assert all(str(s.outcome) == "pass" for s in run.record.steps)
    assert run.result.credit_bought == Decimal("20.00")
    assert run.result.verdict == "balanced"  # the centre verified the toy readback's MAC
    record = record_schema.TestRecord.model_validate_json(
        (tmp_path / "run" / "record.json").read_text())
    (test,) = record.tests
    assert test.instruments is not None
    assert test.instruments.card_reader.atr.startswith(TOY_ATR)  # the toy card was written


def test_a_saved_card_comes_back_as_a_card_of_its_format(tmp_path: Path) -> None:
    """`rig sim` card persistence rebuilds a card through its format's card_from_dict; a
    file naming a format that is not installed is one error naming the file."""
    toy = registry.card_format("toycard")
    card = toy.blank_card()
    card.process(bytes.fromhex("00A4040008") + b"TOYCARD1")
    card.process(bytes.fromhex("80D0000003") + b"abc")
    path = tmp_path / "card.json"
    VirtualCard(card, format_name="toycard").save(path)
    restored = VirtualCard.load(path)
    assert restored.format_name == "toycard" and restored.atr.hex().upper().startswith(TOY_ATR)
    assert restored.app.to_dict() == card.to_dict()
    path.write_text(path.read_text().replace('"toycard"', '"acme-sle"'))
    with pytest.raises(CardError, match=r"virtual card file .*card\.json: card_format: no "
                                        r"card format 'acme-sle' is installed"):
        VirtualCard.load(path)
