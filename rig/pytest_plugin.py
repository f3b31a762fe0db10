"""rig's pytest plugin: bench options, bench fixtures, profile-capability markers.

`pytest --bench lab.toml` runs the same tests against a real bench that run by default
against an emulated one. DUT and station identity go into every report (JUnit properties,
Allure environment) so a result can never be separated from what it was measured on.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rig.bench.config import BenchConfig, load_bench_config
from rig.errors import RigError
from rig.profile import DEFAULT_PROFILE, MeterProfile, load_profile


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rig", "rig bench")
    group.addoption("--bench", metavar="PATH", default=None,
                    help="bench config (TOML); default: an emulated bench")
    group.addoption("--meter-profile", metavar="NAME", default=None,
                    help=f"meter profile name or path (default: {DEFAULT_PROFILE})")
    group.addoption("--cert-dir", metavar="DIR", default=None,
                    help="write per-requirement results and certification.html here")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "requires_capability(name, ...): skip unless the meter profile has them")
    config.addinivalue_line("markers", "bench: needs a bench (emulated by default)")
    config.stash[_BENCH_CONFIG] = _checked_bench_config(config)


_BENCH_CONFIG = pytest.StashKey[BenchConfig]()


def _checked_bench_config(config: pytest.Config) -> BenchConfig:
    """--bench and --meter-profile, validated once before any test: a broken file is one
    usage error naming file, field and problem, not a traceback in every test."""
    path = config.getoption("--bench", default=None)
    profile = config.getoption("--meter-profile", default=None)
    try:
        bench = load_bench_config(Path(path)) if path else BenchConfig(time_scale=36000.0)
        if profile:
            bench = bench.model_copy(update={"profile": profile})
        load_profile(bench.profile)
    except RigError as e:
        raise pytest.UsageError(f"rig: {e}") from None
    return bench


def configured_bench(config: pytest.Config) -> BenchConfig:
    """The session's bench config (validated at start-up)."""
    return config.stash[_BENCH_CONFIG]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """Keep each phase's report on the item, so fixtures can see how the test ended."""
    report = yield
    setattr(item, f"rig_report_{report.when}", report)
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    directory = session.config.getoption("--cert-dir", default=None)
    if directory and Path(directory).is_dir():
        from rig.report.certification import load_results, write_summary

        write_summary(load_results(Path(directory)), Path(directory) / "certification.html")


@pytest.fixture(scope="session")
def bench_config(request: pytest.FixtureRequest) -> BenchConfig:
    """The bench config: --bench PATH, else an emulated bench; --meter-profile overrides."""
    return configured_bench(request.config)


@pytest.fixture(scope="session")
def meter_profile(bench_config: BenchConfig) -> MeterProfile:
    return load_profile(bench_config.profile)


@pytest.fixture(autouse=True)
def _require_capabilities(request: pytest.FixtureRequest) -> None:
    marker = request.node.get_closest_marker("requires_capability")
    if marker is None:
        return
    profile: MeterProfile = request.getfixturevalue("meter_profile")
    missing = [c for c in marker.args if c not in profile.capabilities]
    if missing:
        pytest.skip(f"meter profile {profile.name!r} lacks {', '.join(missing)}")


@pytest.fixture
def bench(bench_config: BenchConfig, meter_profile: MeterProfile,
          record_property: pytest.RecordProperty) -> Iterator[object]:
    """An open bench; closed into its safe state whatever the test does."""
    from rig.bench.bench import open_bench

    with open_bench(bench_config, profile=meter_profile) as b:
        stamp_identity(b.identity, record_property)
        yield b


def stamp_identity(identity: dict[str, str], record_property: pytest.RecordProperty) -> None:
    """Put DUT and station identity into the JUnit properties and the Allure environment."""
    for key, value in identity.items():
        record_property(key, value)
    _allure_environment(identity)


def _allure_environment(identity: dict[str, str]) -> None:
    """Write identity into allure-results/environment.properties when Allure is on."""
    import allure_commons

    for plugin in allure_commons.plugin_manager.get_plugins():
        directory = getattr(plugin, "_report_dir", None)
        if directory:
            path = Path(directory) / "environment.properties"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(f"{k}={v}\n" for k, v in identity.items()), "utf-8")
