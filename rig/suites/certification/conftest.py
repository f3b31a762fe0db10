"""Certification suite wiring: every scenario × every meter profile, each on a fresh bench.

An in-process emulated bench starts on a fixed Wednesday morning (so time-of-day rules such
as friendly periods act the same on every run) and at the time scale a test asks for with
`@pytest.mark.emulated_time_scale(x)`; a real bench or an attached `rig sim` is used as is.

Billing: a per-test SQLite file, unless the bench config names a centre (`[billing] url`, a
database URL or a served `http(s)://` one with its token) — then every test, on every
pytest-xdist worker, uses that one centre. A centre knows a meter by its address and each
fresh emulated meter starts at purchase sequence 0, so an in-process emulated meter on a
shared centre gets a random address of its own for each test (one the centre does not know
yet); with a billing centre per test it gets a stable address per profile and worker, so two
runs are comparable. A real bench uses the meter's nameplate address (its profile or
`meter.address`).

Records: measurements are Allure steps and JUnit properties; the evidence is attached to the
test itself (in the call phase, not the fixture's teardown); with --cert-dir each test's
result, its context and its evidence files go into the run folder for certification.html and
record.json.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from pathlib import Path

import allure
import pytest

from rig.bench.bench import Bench, open_bench
from rig.bench.config import BenchConfig
from rig.billing.centre.errors import NotFound
from rig.billing.centre.facade import BillingCentre
from rig.billing.centre.opening import open_billing
from rig.billing.connect import connect_billing
from rig.billing.remote import RemoteBillingCentre
from rig.profile import MeterProfile, available_profiles, load_profile
from rig.pytest_plugin import (
    RecordProperty,
    configured_bench,
    record_measurements,
    stamp_identity,
)
from rig.report.certification import result_from_record, save_result
from rig.report.plot import attach_plot
from rig.report.record import RunRecord
from rig.report.testrecord import bench_context
from rig.scenarios.cert_labels import labels_for, requirement_link
from rig.scenarios.remote_steps import NotApplicable, bench_steps
from rig.scenarios.steps import BenchSteps


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "cert_profile" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("--meter-profile")
        bench = configured_bench(metafunc.config)
        # An in-process emulated bench can be any model; a real bench, or a running `rig sim`
        # (a lab place's), is the one meter its config names.
        names = [chosen] if chosen else (
            available_profiles(bench.profiles_dir)
            if bench.kind == "emulated" and bench.sim_control is None else [bench.profile])
        metafunc.parametrize("cert_profile", names, scope="function")


CERT_EPOCH = datetime(2026, 3, 4, 8, 0, tzinfo=UTC)  # a Wednesday 08:00: no friendly period


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "emulated_time_scale(x): bench seconds per real second "
                            "for an in-process emulated bench (short meter delays)")
    config.addinivalue_line("markers", "billing_on_bench_time: the billing centre must keep "
                            "the bench's time (skipped with a served centre on a fast bench)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Allure labels a lab filters on: epic, feature, story, severity, requirement link."""
    for item in items:
        if "cert_profile" not in getattr(item, "fixturenames", ()):
            continue
        requirement = _requirement(item)
        labels = labels_for(requirement)
        for mark in (allure.epic("certification"), allure.feature(labels.feature),
                     allure.story(requirement), allure.severity(labels.severity),
                     allure.link(requirement_link(requirement), link_type="requirement",
                                 name=f"requirement: {requirement}")):
            item.add_marker(mark)


@pytest.fixture
def meter_profile(cert_profile: str, bench_config: BenchConfig) -> MeterProfile:
    """The profile under certification (so `requires_capability` judges this one)."""
    return load_profile(cert_profile, bench_config.profiles_dir)


def _cert_config(request: pytest.FixtureRequest, config: BenchConfig,
                 profile: MeterProfile) -> BenchConfig:
    update: dict[str, object] = {"profile": profile.name}
    if config.kind == "emulated":  # a lab place's sim takes these; a plain `rig sim` not
        if config.epoch is None:
            update["epoch"] = CERT_EPOCH
        marker = request.node.get_closest_marker("emulated_time_scale")
        if marker is not None:
            update["time_scale"] = float(marker.args[0])
    if config.kind == "emulated" and config.sim_control is None \
            and config.meter.address is None:
        address = (_fresh_address(config) if config.billing.url
                   else stable_address(profile.name, _worker()))
        update["meter"] = config.meter.model_copy(update={"address": address})
    return config.model_copy(update=update)


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def stable_address(profile: str, worker: str) -> str:
    """The meter address an emulated meter of `profile` has on `worker` in every run: 12
    digits from a hash of both, never starting with 99 (the another-meter scenario's)."""
    digest = int.from_bytes(hashlib.sha256(f"{profile}|{worker}".encode()).digest()[:8], "big")
    return f"{1 + digest % 8}{digest // 8 % 10**11:011d}"


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
                                       reason.removeprefix("Skipped: "),
                                       test_id=item.nodeid), Path(cert_dir))
    return report


def _requirement(item: pytest.Item) -> str:
    return getattr(item, "originalname", item.name).removeprefix("test_").replace("_", " ")


def _outcome(node: pytest.Item) -> tuple[str, str]:
    call = getattr(node, "rig_report_call", None)
    if call is None:
        return "error", "the test did not run to its end"
    if call.passed:
        return "pass", ""
    if call.skipped:  # (file, line, "Skipped: why") for a skip raised in the test
        why = call.longrepr[2] if isinstance(call.longrepr, tuple) else str(call.longrepr)
        return "skipped", why.removeprefix("Skipped: ")
    crash = getattr(call.longrepr, "reprcrash", None)
    message = crash.message if crash is not None else str(call.longrepr)
    return ("fail" if "AssertionError" in message else "error"), message


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """After the test body, while Allure still has the test open: its evidence and its
    measurements belong to the test, whether it passed or not."""
    try:
        return (yield)
    except NotApplicable as e:  # e.g. a card-only requirement under remote delivery
        pytest.skip(str(e))
    finally:
        s: BenchSteps | None = getattr(item, "rig_steps", None)
        if s is not None:
            _attach_evidence(item, s)
            record_measurements(item, s.record)


def _attach_evidence(item: pytest.Item, s: BenchSteps) -> None:
    item.rig_evidence_attached = True  # type: ignore[attr-defined]
    record, bench = s.record, s.bench
    record.attach("meter serial transcript", bench.meter_transcript.to_text())
    record.attach("card APDU trace (secrets redacted)", bench.apdu_trace.to_text())
    if bench.scpi_log is not None:
        record.attach("load SCPI log", bench.scpi_log.to_text())
    if s.series.samples:
        title = f"{_requirement(item)} — {bench.profile.name}"
        attach_plot(record, s.series, title)
    record.attach("measurements (value, limit, verdict)",
                  json.dumps([{"step": st.name, **m.to_dict()} for st in record.steps
                              for m in st.measurements], indent=2, default=str),
                  "application/json")


@pytest.fixture
def steps(request: pytest.FixtureRequest, bench_config: BenchConfig, meter_profile: MeterProfile,
          tmp_path: Path, record_property: RecordProperty) -> Iterator[BenchSteps]:
    profile = meter_profile
    config = _cert_config(request, bench_config, profile)
    node = request.node
    with open_bench(config, profile=profile) as bench:
        _skip_on_foreign_clock(request, config, bench)
        stamp_identity(bench.identity, record_property)
        record = RunRecord("certification", identity=bench.identity, use_allure=True)
        billing_url = config.billing.url or f"sqlite:///{tmp_path / 'billing.sqlite'}"
        with _billing(config, bench, tmp_path) as billing:
            try:
                s = bench_steps(bench, billing, record,  # type: ignore[arg-type]
                                request.config.getoption("--medium"))
            except NotApplicable as e:  # remote delivery to a meter without an ESAM
                pytest.skip(str(e))
            node.rig_steps = s
            try:
                yield s
            finally:
                node.rig_steps = None
                if not getattr(node, "rig_evidence_attached", False):
                    _attach_evidence(node, s)  # the test never reached its call phase
                record.context = bench_context(
                    bench, billing_url=billing_url,
                    operator=request.config.getoption("--operator", default=None))
                record.close()
    cert_dir = request.config.getoption("--cert-dir")
    if cert_dir:
        outcome, message = _outcome(node)
        save_result(result_from_record(profile.name, _requirement(node), outcome,
                                       record, message, test_id=node.nodeid,
                                       evidence_root=Path(cert_dir)),
                    Path(cert_dir))
