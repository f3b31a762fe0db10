"""A card format's options reach its writer and its virtual card: the profile's
[card.options], overlaid by the bench config's card-writer options ([card] dialect or
[card] options); a value the format does not offer is refused before anything starts."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from rig.bench.bench import open_bench
from rig.bench.config import BenchConfig, CardReader
from rig.billing.connect import connect_billing
from rig.card_formats import registry
from rig.errors import ConfigError
from rig.report.record import RunRecord
from rig.scenarios.steps import BenchSteps
from tests.card_formats.test_toy_format import profile_with_card

RIGPP = registry.card_format("rigpp")


class _DialectFormat:
    """RIGPP's parts, with a reader-dialect option whose values it records as given."""

    name = "dialected"
    options: Mapping[str, tuple[str, ...]] = {"dialect": ("acs", "omnikey"),
                                              "layout": ("a", "b")}

    def __init__(self) -> None:
        self.given: dict[str, dict[str, str]] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(RIGPP, name)

    def station_writer(self, keys: Any, *, trace: Any = None,
                       options: Mapping[str, str] | None = None) -> Any:
        self.given["writer"] = dict(options or {})
        return RIGPP.station_writer(keys, trace=trace, options=options)

    def blank_card(self, options: Mapping[str, str] | None = None) -> Any:
        self.given["card"] = dict(options or {})
        return RIGPP.blank_card(options)


@pytest.fixture
def fmt(tmp_path: Path) -> Iterator[_DialectFormat]:
    found = _DialectFormat()
    registry.register(found)  # type: ignore[arg-type]
    profile_with_card(tmp_path, '[card]\nformat = "dialected"\n[card.options]\n'
                                'dialect = "acs"\nlayout = "b"\n', name="dialected-1p")
    yield found
    registry.unregister("dialected")


def config(tmp_path: Path, **card: Any) -> BenchConfig:
    return BenchConfig(profile="dialected-1p", profiles_dir=tmp_path, time_scale=36000.0,
                       card=CardReader(**card))


@pytest.mark.bench
def test_the_bench_dialect_overrides_the_profile_for_writer_and_card(
        fmt: _DialectFormat, tmp_path: Path) -> None:
    with open_bench(config(tmp_path, dialect="omnikey")) as bench, \
            connect_billing(f"sqlite:///{tmp_path / 'b.sqlite'}", clock=bench.clock.now) as b:
        BenchSteps(bench, b, RunRecord("options", identity={}))
    want = {"dialect": "omnikey", "layout": "b"}
    assert fmt.given == {"writer": want, "card": want}


def test_a_dialect_the_format_lacks_is_refused_before_the_bench_starts(
        fmt: _DialectFormat, tmp_path: Path) -> None:
    refused = r"bench config \[card\] options\.dialect: 'gemalto' is not one of acs, omnikey"
    with pytest.raises(ConfigError, match=refused), \
            open_bench(config(tmp_path, dialect="gemalto")):
        pass
    assert fmt.given == {}
