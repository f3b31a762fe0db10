"""Write a run's report: report.json and record.json (machines), report.html (people),
allure-results (Allure).

The HTML page stands alone (no assets, no network) so it can be mailed to a customer or
archived with a certificate. Attachments are written as recorded: secrets are redacted where
they are captured (the APDU trace and the transcript never hold key material).
"""

from __future__ import annotations

import base64
import hashlib
import html
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

from rig.report.testrecord import (
    build_record,
    local_time,
    save_evidence,
    test_entry,
    write_record,
)
from rig.scenarios.record import Attachment, Measurement, Outcome, RunRecord

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


_CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .6em;
text-align:left;vertical-align:top}th{background:#f3f3f3}.pass{color:#17692c;font-weight:600}
.fail,.error{color:#a11;font-weight:600}.pending,.skipped,.recorded{color:#777}pre{background:#f7f7f7;
padding:.6em;overflow:auto;max-height:30em;font-size:.85em}img{max-width:100%}"""


def _evidence(a: Attachment) -> str:
    name = html.escape(a.name)
    if a.data is not None and a.mime == "image/png":
        b64 = base64.b64encode(a.data).decode()
        return f"<figure><img alt='{name}' src='data:image/png;base64,{b64}'>" \
               f"<figcaption>{name}</figcaption></figure>"
    return f"<details><summary>{name}</summary><pre>{html.escape(a.text)}</pre></details>"


def measurement_rows(measurements: list[Measurement]) -> str:
    """Measurement table rows: value, the requirement it is judged by, verdict, note."""
    e = html.escape
    return "".join(
        f"<tr><td>{e(m.name)}</td><td>{e(str(m.value))} {e(m.unit)}</td>"
        f"<td>{e(m.limits_text())}</td><td class='{m.verdict}'>{_VERDICT[m.verdict]}</td>"
        f"<td>{e(m.basis)}{'; ' if m.basis and m.description else ''}{e(m.description)}"
        f"</td></tr>" for m in measurements)


MEASUREMENT_HEAD = ("<tr><th>measurement</th><th>value</th><th>limit (requirement)</th>"
                    "<th>verdict</th><th>basis / note</th></tr>")
_VERDICT = {"pass": "pass", "fail": "FAIL", "recorded": "recorded, no limit"}


def header_html(record: dict[str, Any], test: dict[str, Any] | None = None) -> str:
    """The record's header as tables: when, software, station, operator, and (for one
    test) its DUT, instruments and billing centre."""
    e = html.escape

    def table(rows: list[tuple[str, object]]) -> str:
        return "<table>" + "".join(f"<tr><th>{e(k)}</th><td>{e(str(v))}</td></tr>"
                                   for k, v in rows) + "</table>"

    sw = record.get("rig", {})
    station = record.get("station") or {}
    rows = [("started", record.get("started")), ("finished", record.get("finished")),
            ("duration", f"{record.get('duration_s')} s"),
            ("rig version", sw.get("version")),
            ("git revision", (sw.get("git_revision") or "not a checkout")
             + (" (with local changes)" if sw.get("git_dirty") else "")),
            ("station", station.get("id")), ("bench", station.get("bench_kind")),
            ("time scale", station.get("time_scale")), ("operator", record.get("operator"))]
    out = f"<h2>Test record</h2>{table(rows)}"
    if test is not None:
        out += context_html(test)
    return out


def context_html(test: dict[str, Any]) -> str:
    """A test's device under test, instruments and billing centre."""
    e = html.escape
    dut = test.get("dut", {})
    inst = test.get("instruments", {})
    billing = test.get("billing", {})
    rows = [("meter model", dut.get("meter_model")), ("serial", dut.get("serial")),
            ("address", dut.get("address")), ("firmware", dut.get("firmware")),
            ("profile", dut.get("profile")), ("profile SHA-256", dut.get("profile_sha256"))]
    rows += [(f"{part}: {k}", v) for part, fields in inst.items()
             for k, v in (fields.items() if isinstance(fields, dict) else [])]
    rows += [("billing centre", f"{billing.get('kind', '')} {billing.get('url', '')}")]
    return "<table>" + "".join(f"<tr><th>{e(str(k))}</th><td>{e(str(v))}</td></tr>"
                               for k, v in rows) + "</table>"


def write_html(run: RunRecord, path: Path, record: dict[str, Any] | None = None) -> None:
    e = html.escape
    record = record or run_record(run)
    rows = "".join(f"<tr><th>{e(k)}</th><td>{e(str(_jsonable(v)))}</td></tr>"
                   for k, v in run.summary.items())
    phases = []
    for s in run.steps:
        table = (f"<table>{MEASUREMENT_HEAD}{measurement_rows(s.measurements)}</table>"
                 if s.measurements else "")
        err = f"<p class='error'>{e(s.error)}</p>" if s.error else ""
        phases.append(f"<h3>{e(s.name)} — <span class='{s.outcome}'>{s.outcome}</span> "
                      f"<small>({s.duration_s:.2f} s)</small></h3>{err}{table}")
        phases.extend(_evidence(a) for a in s.attachments)
    evidence = "".join(_evidence(a) for a in run.attachments)
    test = record["tests"][0] if record.get("tests") else None
    page = f"""<!doctype html><html><head><meta charset="utf-8">
<title>rig — {e(run.name)}</title><style>{_CSS}</style></head><body>
<h1>{e(run.name)}: <span class="{run.outcome}">{str(run.outcome).upper()}</span></h1>
<h2>Summary</h2><table>{rows}</table>
{header_html(record, test)}
<h2>Phases</h2>{''.join(phases)}
<h2>Evidence</h2>{evidence}
<p><small>Machine-readable record: record.json (schema {e(record['schema'])} version
{record['schema_version']}, docs/certification.md).</small></p>
</body></html>
"""
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
