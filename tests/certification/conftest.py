"""Certification suite wiring: every scenario × every meter profile, each on a fresh bench.

An in-process emulated bench starts on a fixed Wednesday morning (so time-of-day rules such
as friendly periods act the same on every run) and at the time scale a test asks for with
`@pytest.mark.emulated_time_scale(x)`; a real bench or an attached `rig sim` is used as is.

Billing: a per-test SQLite file, unless the bench config names a centre (`[billing] url`, a
database URL or a served `http(s)://` one with its token) — then every test, on every
pytest-xdist worker, uses that one centre. A centre knows a meter by its address and each
fresh emulated meter starts at purchase sequence 0, so an in-process emulated meter gets a
random address of its own for each test (one the centre does not know yet).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rig.bench.bench import Bench, open_bench
from rig.bench.config import BenchConfig
from rig.billing.db import open_billing
from rig.billing.remote import RemoteBillingCentre, connect_billing
from rig.billing.service import BillingCentre, NotFound
from rig.profile import MeterProfile, available_profiles, load_profile
from rig.pytest_plugin import configured_bench, stamp_identity
from rig.report.certification import result_from_record, save_result
from rig.report.plot import plot_run
from rig.scenarios.record import RunRecord
from rig.scenarios.steps import BenchSteps


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "cert_profile" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("--meter-profile")
        bench = configured_bench(metafunc.config)
        # An emulated bench can be any model; a real bench is the one meter its config names.
        names = [chosen] if chosen else (
            available_profiles() if bench.kind == "emulated" else [bench.profile])
        metafunc.parametrize("cert_profile", names, scope="function")


CERT_EPOCH = datetime(2026, 3, 4, 8, 0, tzinfo=UTC)  # a Wednesday 08:00: no friendly period


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "emulated_time_scale(x): bench seconds per real second "
                            "for an in-process emulated bench (short meter delays)")
    config.addinivalue_line("markers", "billing_on_bench_time: the billing centre must keep "
                            "the bench's time (skipped with a served centre on a fast bench)")


@pytest.fixture
def meter_profile(cert_profile: str) -> MeterProfile:
    """The profile under certification (so `requires_capability` judges this one)."""
    return load_profile(cert_profile)


def _cert_config(request: pytest.FixtureRequest, config: BenchConfig,
                 profile: MeterProfile) -> BenchConfig:
    update: dict[str, object] = {"profile": profile.name}
    if config.kind == "emulated" and config.sim_control is None:
        if config.epoch is None:
            update["epoch"] = CERT_EPOCH
        marker = request.node.get_closest_marker("emulated_time_scale")
        if marker is not None:
            update["time_scale"] = float(marker.args[0])
        if config.meter.address is None:
            address = _fresh_address(config)
            update["meter"] = config.meter.model_copy(update={"address": address})
    return config.model_copy(update=update)


def _fresh_address(config: BenchConfig) -> str:
    """A 12-digit meter number no other test (worker, run) on the shared centre uses.

    Random in 10^11 (collision odds ~1e-6 for a thousand meters), checked against the centre
    when one is named; never starting with 99, the prefix the another-meter scenario uses.
    """
    with _shared_centre(config) as centre:
        while True:
            address = f"{secrets.choice('12345678')}{secrets.randbelow(10**11):011d}"
            if centre is None or _unknown(centre, address):
                return address


def _unknown(centre: BillingCentre | RemoteBillingCentre, meter_no: str) -> bool:
    try:
        centre.meter(meter_no)
    except NotFound:
        return True
    return False


def _shared_centre(config: BenchConfig) -> AbstractContextManager[
        BillingCentre | RemoteBillingCentre | None]:
    """The centre the bench config names, if any (a database, or a served one)."""
    url = config.billing.url
    if not url:
        return nullcontext(None)
    return connect_billing(url, token_file=config.billing.token_file)


def _billing(config: BenchConfig, bench: Bench, tmp_path: Path) -> AbstractContextManager[
        BillingCentre | RemoteBillingCentre]:
    if config.billing.url:
        return connect_billing(config.billing.url, token_file=config.billing.token_file,
                               clock=bench.clock.now)
    return open_billing(f"sqlite:///{tmp_path / 'billing.sqlite'}", clock=bench.clock.now)


def _skip_on_foreign_clock(request: pytest.FixtureRequest, config: BenchConfig,
                           bench: Bench) -> None:
    url = config.billing.url or ""
    if url.startswith(("http://", "https://")) and bench.clock.scale != 1 and \
            request.node.get_closest_marker("billing_on_bench_time") is not None:
        pytest.skip(f"the billing centre served at {url} keeps its own clock and this bench "
                    f"runs {bench.clock.scale:g}x: name its database URL instead")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """A requirement skipped for a missing capability still gets its row in the summary."""
    report = yield
    cert_dir = item.config.getoption("--cert-dir")
    callspec = getattr(item, "callspec", None)
    if cert_dir and report.when == "setup" and report.skipped and callspec is not None:
        profile = callspec.params.get("cert_profile")
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(
            report.longrepr)
        record = RunRecord("certification", identity={"meter_profile": str(profile)})
        record.close()
        save_result(result_from_record(str(profile), _requirement(item), "skipped", record,
                                       reason.removeprefix("Skipped: ")), Path(cert_dir))
    return report


def _requirement(item: pytest.Item) -> str:
    return getattr(item, "originalname", item.name).removeprefix("test_").replace("_", " ")


def _outcome(node: pytest.Item) -> tuple[str, str]:
    call = getattr(node, "rig_report_call", None)
    if call is None:
        return "error", "the test did not run to its end"
    if call.passed:
        return "pass", ""
    if call.skipped:
        return "skipped", str(call.longrepr)
    crash = getattr(call.longrepr, "reprcrash", None)
    message = crash.message if crash is not None else str(call.longrepr)
    return ("fail" if "AssertionError" in message else "error"), message


@pytest.fixture
def steps(request: pytest.FixtureRequest, bench_config: BenchConfig, meter_profile: MeterProfile,
          tmp_path: Path, record_property: pytest.RecordProperty) -> Iterator[BenchSteps]:
    profile = meter_profile
    config = _cert_config(request, bench_config, profile)
    with open_bench(config, profile=profile) as bench:
        _skip_on_foreign_clock(request, config, bench)
        stamp_identity(bench.identity, record_property)
        record = RunRecord("certification", identity=bench.identity, use_allure=True)
        with _billing(config, bench, tmp_path) as billing:
            s = BenchSteps(bench, billing, record)  # type: ignore[arg-type]
            try:
                yield s
            finally:
                record.attach("meter serial transcript", bench.meter_transcript.to_text())
                record.attach("card APDU trace (secrets redacted)", bench.apdu_trace.to_text())
                if bench.scpi_log is not None:
                    record.attach("load SCPI log", bench.scpi_log.to_text())
                if s.series.samples:
                    title = f"{_requirement(request.node)} — {profile.name}"
                    record.attach_png("power, credit and relay over time",
                                      plot_run(s.series, title=title))
                record.close()
    cert_dir = request.config.getoption("--cert-dir")
    if cert_dir:
        outcome, message = _outcome(request.node)
        save_result(result_from_record(profile.name, _requirement(request.node), outcome,
                                       record, message),
                    Path(cert_dir))
