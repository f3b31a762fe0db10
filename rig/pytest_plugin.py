"""rig's pytest plugin: bench options, bench fixtures, profile-capability markers.

`pytest --bench lab.toml` runs the same tests against a real bench that run by default
against an emulated one. DUT and station identity go into every report (JUnit properties,
Allure environment) so a result can never be separated from what it was measured on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from rig.bench.config import BenchConfig, load_bench_config
from rig.errors import RigError
from rig.profile import DEFAULT_PROFILE, PROFILES_ENV, MeterProfile, load_profile

if TYPE_CHECKING:
    from rig.bench.bench import Bench
    from rig.report.record import RunRecord

_STARTED = pytest.StashKey[float]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rig", "rig bench")
    group.addoption("--bench", metavar="PATH", default=None,
                    help="bench config (TOML); default: an emulated bench")
    group.addoption("--meter-profile", metavar="NAME", default=None,
                    help=f"meter profile name or path (default: {DEFAULT_PROFILE})")
    group.addoption("--profiles-dir", metavar="DIR", default=None,
                    help="your meter profiles, searched before rig's shipped ones "
                    f"(overrides the bench config's profiles_dir; also ${PROFILES_ENV})")
    group.addoption("--medium", choices=("card", "remote"), default="card",
                    help="how purchases reach the meter: card, or remote (DL/T 645 security "
                    "commands to a profile's [esam]; card-only requirements are skipped as "
                    "not applicable)")
    group.addoption("--cert-dir", metavar="DIR", default=None,
                    help="write per-requirement results, certification.html and record.json "
                    "here")
    group.addoption("--operator", metavar="NAME", default=None,
                    help="who runs the tests, for the record (default: $RIG_OPERATOR, the "
                    "bench config's operator, the login name)")
    group.addoption("--lg-place", metavar="PLACE", default=None,
                    help="run on a lab place (labgrid, rig[lab]): a place name or tags "
                    "KEY=VALUE[,...], held for the session; --bench gives the rest; the "
                    "coordinator is --lg-coordinator or $LG_COORDINATOR")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "requires_capability(name, ...): skip unless the meter profile has them")
    config.addinivalue_line("markers", "bench: needs a bench (emulated by default)")
    if config.getoption("--lg-place"):  # held until the session ends (rig/lab/pytest_place)
        from rig.lab.pytest_place import hold_place

        hold_place(config)
    config.stash[_BENCH_CONFIG] = _checked_bench_config(config)


_BENCH_CONFIG = pytest.StashKey[BenchConfig]()


def _checked_bench_config(config: pytest.Config) -> BenchConfig:
    """--bench, --meter-profile and --profiles-dir, validated once before any test: a broken
    file is one usage error naming file, field and problem, not a traceback in every test."""
    try:
        bench = bench_config_of(config)
        load_profile(bench.profile, bench.profiles_dir)
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


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_STARTED] = time.time()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The controller (not an xdist worker) writes certification.html and record.json from
    every test's saved result."""
    directory = session.config.getoption("--cert-dir", default=None)
    if hasattr(session.config, "workerinput") or not directory or \
            not Path(directory).is_dir():
        return
    from rig.report.certification import load_results, write_run_record, write_summary

    results = load_results(Path(directory))
    started = session.config.stash.get(_STARTED, time.time())
    record = write_run_record(results, Path(directory) / "record.json", started=started,
                              finished=time.time(),
                              operator=session.config.getoption("--operator"))
    write_summary(results, Path(directory) / "certification.html", record)


def record_measurements(item: pytest.Item, record: RunRecord) -> None:
    """Each measurement of a test as a JUnit property: "measurement: STEP / NAME" =
    "VALUE UNIT | limit LIMIT | VERDICT" (the limit is the requirement, never the value)."""
    for step in record.steps:
        for m in step.measurements:
            item.user_properties.append((f"measurement: {step.name} / {m.name}", m.title()))


def bench_config_of(config: pytest.Config) -> BenchConfig:
    """The bench config of this session: --bench PATH, else an emulated bench;
    --meter-profile and --profiles-dir override what the file says."""
    path = config.getoption("--bench")
    bench = load_bench_config(Path(path)) if path else BenchConfig(time_scale=36000.0)
    update: dict[str, object] = {}
    if config.getoption("--meter-profile"):
        update["profile"] = config.getoption("--meter-profile")
    if config.getoption("--profiles-dir"):
        update["profiles_dir"] = Path(config.getoption("--profiles-dir")).resolve()
    return bench.model_copy(update=update)


@pytest.fixture(scope="session")
def bench_config(request: pytest.FixtureRequest) -> BenchConfig:
    """The bench config: --bench PATH, else an emulated bench; options override it (validated
    at start-up)."""
    return configured_bench(request.config)


@pytest.fixture(scope="session")
def meter_profile(bench_config: BenchConfig) -> MeterProfile:
    return load_profile(bench_config.profile, bench_config.profiles_dir)


@pytest.fixture(autouse=True)
def _require_capabilities(request: pytest.FixtureRequest) -> None:
    marker = request.node.get_closest_marker("requires_capability")
    if marker is None:
        return
    profile: MeterProfile = request.getfixturevalue("meter_profile")
    missing = [c for c in marker.args if c not in profile.capabilities]
    if missing:
        pytest.skip(f"meter profile {profile.name!r} lacks {', '.join(missing)}")


RecordProperty = Callable[[str, object], None]  # pytest's record_property fixture


@pytest.fixture
def bench(bench_config: BenchConfig, meter_profile: MeterProfile,
          record_property: RecordProperty) -> Iterator[Bench]:
    """An open bench; closed into its safe state whatever the test does."""
    from rig.bench.bench import open_bench

    with open_bench(bench_config, profile=meter_profile) as b:
        stamp_identity(b.identity, record_property)
        yield b


def stamp_identity(identity: dict[str, str], record_property: RecordProperty) -> None:
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
