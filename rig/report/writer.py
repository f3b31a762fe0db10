"""Write a run's report: report.json and record.json (machines), report.html (people),
allure-results (Allure).

The HTML page stands alone (no assets, no network) so it can be mailed to a customer or
archived with a certificate. Attachments are written as recorded: secrets are redacted where
they are captured (the APDU trace and the transcript never hold key material).
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from allure_commons.logger import AllureFileLogger
from allure_commons.model2 import (
    Attachment as AllureAttachment,
)
from allure_commons.model2 import (
    Label,
    Parameter,
    Status,
    StatusDetails,
    TestResult,
    TestStepResult,
)

from rig.report.record import Attachment, Measurement, Outcome, RunRecord
from rig.report.testrecord import (
    build_record,
    local_time,
    save_evidence,
    test_entry,
    write_record,
)
from rig.templating import templates

_STATUS = {Outcome.PASS: Status.PASSED, Outcome.FAIL: Status.FAILED,
           Outcome.ERROR: Status.BROKEN, Outcome.SKIPPED: Status.SKIPPED,
           Outcome.PENDING: Status.SKIPPED, Outcome.RUNNING: Status.BROKEN}


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def run_to_dict(run: RunRecord) -> dict[str, Any]:
    return {
        "name": run.name,
        "outcome": str(run.outcome),
        "identity": run.identity,
        "context": run.context,
        "started": local_time(run.started),
        "finished": local_time(run.finished or run.started),
        "duration_s": round(max(0.0, (run.finished or run.started) - run.started), 3),
        "summary": {k: _jsonable(v) for k, v in run.summary.items()},
        "steps": [
            {
                "name": s.name,
                "outcome": str(s.outcome),
                "duration_s": round(s.duration_s, 3),
                "error": s.error,
                "measurements": [m.to_dict() for m in s.measurements],
                "attachments": [a.name for a in s.attachments],
            }
            for s in run.steps
        ],
    }


def write_json(run: RunRecord, path: Path) -> None:
    path.write_text(json.dumps(run_to_dict(run), indent=2, default=str) + "\n", "utf-8")


def history_id(full_name: str, profile: str, station: str) -> str:
    """Allure's identity of a result: the test, the meter profile and the bench it ran on,
    never a measured value, so runs of the same test on the same bench link in history."""
    return hashlib.md5(f"{full_name}|{profile}|{station}".encode()).hexdigest()


def write_allure(run: RunRecord, directory: Path) -> None:
    """The run as one Allure test result with a step per phase and a sub-step per
    measurement (value, limit, verdict)."""
    directory.mkdir(parents=True, exist_ok=True)
    logger = AllureFileLogger(str(directory), clean=False)

    def ms(t: float) -> int:
        return int(t * 1000)

    def attach(a: Attachment) -> AllureAttachment:
        ext = {"application/json": "json", "image/png": "png"}.get(a.mime, "txt")
        source = f"{uuid.uuid4()}-attachment.{ext}"
        logger.report_attached_data(a.data if a.data is not None else a.text.encode(), source)
        return AllureAttachment(name=a.name, source=source, type=a.mime)

    def measured(m: Measurement, at: int) -> TestStepResult:
        status = Status.FAILED if m.verdict == "fail" else Status.PASSED
        return TestStepResult(name=f"{m.name}: {m.title()}", status=status, start=at, stop=at)

    steps = []
    for s in run.steps:
        start = ms(s.started or run.started)
        steps.append(TestStepResult(
            name=s.name, status=_STATUS[s.outcome], start=start,
            stop=ms(s.finished or s.started or run.started),
            statusDetails=StatusDetails(message=s.error) if s.error else None,
            steps=[measured(m, start) for m in s.measurements],
            attachments=[attach(a) for a in s.attachments],
        ))
    profile = run.identity.get("meter_profile", "")
    station = run.identity.get("station_id", "")
    full_name = f"rig run: {run.name}"
    result = TestResult(
        uuid=str(uuid.uuid4()), name=run.name, fullName=full_name,
        historyId=history_id(full_name, profile, station),
        testCaseId=hashlib.md5(full_name.encode()).hexdigest(),
        status=_STATUS[run.outcome], start=ms(run.started),
        stop=ms(run.finished or run.started), steps=steps,
        parameters=[Parameter(name="meter profile", value=profile),
                    Parameter(name="station", value=station)],
        labels=[Label(name="suite", value="rig run"), Label(name="epic", value="cycle"),
                Label(name="feature", value="prepaid cycle"),
                Label(name="story", value=run.name), Label(name="severity", value="critical"),
                *(Label(name=k, value=v) for k, v in run.identity.items())],
        attachments=[attach(a) for a in run.attachments],
    )
    logger.report_result(result)
    env = "".join(f"{k}={v}\n" for k, v in run.identity.items())
    (directory / "environment.properties").write_text(env, "utf-8")


_VERDICT = {"pass": "pass", "fail": "FAIL", "recorded": "recorded, no limit"}


def _evidence(a: Attachment) -> dict[str, str]:
    """An attachment as the page shows it: a PNG inline, anything else as folded text."""
    if a.data is not None and a.mime == "image/png":
        return {"name": a.name, "png": base64.b64encode(a.data).decode()}
    return {"name": a.name, "text": a.text}


def header_rows(record: dict[str, Any]) -> list[tuple[str, object]]:
    """The record's header: when, software, station, operator."""
    sw = record.get("rig", {})
    station = record.get("station") or {}
    return [("started", record.get("started")), ("finished", record.get("finished")),
            ("duration", f"{record.get('duration_s')} s"),
            ("rig version", sw.get("version")),
            ("git revision", (sw.get("git_revision") or "not a checkout")
             + (" (with local changes)" if sw.get("git_dirty") else "")),
            ("station", station.get("id")), ("bench", station.get("bench_kind")),
            ("time scale", station.get("time_scale")), ("operator", record.get("operator"))]


def context_rows(test: dict[str, Any]) -> list[tuple[str, object]]:
    """A test's device under test, instruments and billing centre."""
    dut = test.get("dut", {})
    inst = test.get("instruments", {})
    billing = test.get("billing", {})
    rows: list[tuple[str, object]] = [
        ("meter model", dut.get("meter_model")), ("serial", dut.get("serial")),
        ("address", dut.get("address")), ("firmware", dut.get("firmware")),
        ("profile", dut.get("profile")), ("profile SHA-256", dut.get("profile_sha256"))]
    rows += [(f"{part}: {k}", v) for part, fields in inst.items()
             for k, v in (fields.items() if isinstance(fields, dict) else [])]
    rows += [("billing centre", f"{billing.get('kind', '')} {billing.get('url', '')}")]
    return rows


def write_html(run: RunRecord, path: Path, record: dict[str, Any] | None = None) -> None:
    """report.html from the template rig/report/templates/report.html."""
    record = record or run_record(run)
    test = record["tests"][0] if record.get("tests") else None
    page = templates("rig.report").get_template("report.html").render(
        run=run, record=record, verdict=_VERDICT,
        summary=[(k, _jsonable(v)) for k, v in run.summary.items()],
        header=header_rows(record), context=context_rows(test) if test else None,
        step_evidence=[[_evidence(a) for a in s.attachments] for s in run.steps],
        run_evidence=[_evidence(a) for a in run.attachments])
    path.write_text(page, "utf-8")


def run_record(run: RunRecord, evidence: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """A single run as a test record (record.json) with one test."""
    profile = run.identity.get("meter_profile", "")
    entry = test_entry(run, test_id=f"{run.name}[{profile}]", profile=profile,
                       requirement=run.name, outcome=str(run.outcome),
                       message=str(run.summary.get("error", "")), evidence=evidence)
    return build_record(run.name, [entry], started=run.started,
                        finished=run.finished or run.started)


def write_report(run: RunRecord, directory: Path) -> Path:
    """Write every form of the report into `directory`; returns the HTML page's path."""
    directory.mkdir(parents=True, exist_ok=True)
    write_json(run, directory / "report.json")
    attachments = [a for s in run.steps for a in s.attachments] + run.attachments
    record = run_record(run, save_evidence(attachments, directory / "evidence", directory))
    write_record(record, directory / "record.json")
    write_allure(run, directory / "allure-results")
    page = directory / "report.html"
    write_html(run, page, record)
    return page
