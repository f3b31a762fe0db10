"""Write a run's report: report.json (machine), report.html (people), allure-results (Allure).

The HTML page stands alone (no assets, no network) so it can be mailed to a customer or
archived with a certificate. Attachments are written as recorded: secrets are redacted where
they are captured (the APDU trace and the transcript never hold key material).
"""

from __future__ import annotations

import base64
import html
import json
import uuid
from datetime import UTC, datetime
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

from rig.scenarios.record import Attachment, Outcome, RunRecord

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
        "started": datetime.fromtimestamp(run.started, UTC).isoformat(),
        "finished": datetime.fromtimestamp(run.finished or run.started, UTC).isoformat(),
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


def write_allure(run: RunRecord, directory: Path) -> None:
    """The run as one Allure test result with a step per phase."""
    directory.mkdir(parents=True, exist_ok=True)
    logger = AllureFileLogger(str(directory), clean=False)

    def ms(t: float) -> int:
        return int(t * 1000)

    def attach(a: Attachment) -> AllureAttachment:
        ext = {"application/json": "json", "image/png": "png"}.get(a.mime, "txt")
        source = f"{uuid.uuid4()}-attachment.{ext}"
        logger.report_attached_data(a.data if a.data is not None else a.text.encode(), source)
        return AllureAttachment(name=a.name, source=source, type=a.mime)

    steps = []
    for s in run.steps:
        steps.append(TestStepResult(
            name=s.name, status=_STATUS[s.outcome], start=ms(s.started or run.started),
            stop=ms(s.finished or s.started or run.started),
            statusDetails=StatusDetails(message=s.error) if s.error else None,
            parameters=[Parameter(name=m.name, value=f"{m.value} {m.unit}".strip())
                        for m in s.measurements],
            attachments=[attach(a) for a in s.attachments],
        ))
    result = TestResult(
        uuid=str(uuid.uuid4()), name=run.name, fullName=f"rig run: {run.name}",
        historyId=run.name, status=_STATUS[run.outcome], start=ms(run.started),
        stop=ms(run.finished or run.started), steps=steps,
        labels=[Label(name="suite", value="rig run"),
                *(Label(name=k, value=v) for k, v in run.identity.items())],
        attachments=[attach(a) for a in run.attachments],
    )
    logger.report_result(result)
    env = "".join(f"{k}={v}\n" for k, v in run.identity.items())
    (directory / "environment.properties").write_text(env, "utf-8")


_CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .6em;
text-align:left;vertical-align:top}th{background:#f3f3f3}.pass{color:#17692c;font-weight:600}
.fail,.error{color:#a11;font-weight:600}.pending,.skipped{color:#777}pre{background:#f7f7f7;
padding:.6em;overflow:auto;max-height:30em;font-size:.85em}img{max-width:100%}"""


def _evidence(a: Attachment) -> str:
    name = html.escape(a.name)
    if a.data is not None and a.mime == "image/png":
        b64 = base64.b64encode(a.data).decode()
        return f"<figure><img alt='{name}' src='data:image/png;base64,{b64}'>" \
               f"<figcaption>{name}</figcaption></figure>"
    return f"<details><summary>{name}</summary><pre>{html.escape(a.text)}</pre></details>"


def write_html(run: RunRecord, path: Path) -> None:
    e = html.escape
    rows = "".join(f"<tr><th>{e(k)}</th><td>{e(str(_jsonable(v)))}</td></tr>"
                   for k, v in run.summary.items())
    ident = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in run.identity.items())
    phases = []
    for s in run.steps:
        ms = "".join(
            f"<tr><td>{e(m.name)}</td><td>{e(str(m.value))} {e(m.unit)}</td>"
            f"<td>{e(m.limits_text())}</td><td class='{'pass' if m.passed else 'fail'}'>"
            f"{'pass' if m.passed else 'FAIL'}</td><td>{e(m.description)}</td></tr>"
            for m in s.measurements)
        table = (f"<table><tr><th>measurement</th><th>value</th><th>limits</th><th>result</th>"
                 f"<th>note</th></tr>{ms}</table>") if ms else ""
        err = f"<p class='error'>{e(s.error)}</p>" if s.error else ""
        phases.append(f"<h3>{e(s.name)} — <span class='{s.outcome}'>{s.outcome}</span> "
                      f"<small>({s.duration_s:.2f} s)</small></h3>{err}{table}")
        phases.extend(_evidence(a) for a in s.attachments)
    evidence = "".join(_evidence(a) for a in run.attachments)
    page = f"""<!doctype html><html><head><meta charset="utf-8">
<title>rig — {e(run.name)}</title><style>{_CSS}</style></head><body>
<h1>{e(run.name)}: <span class="{run.outcome}">{str(run.outcome).upper()}</span></h1>
<h2>Summary</h2><table>{rows}</table>
<h2>DUT and station</h2><table>{ident}</table>
<h2>Phases</h2>{''.join(phases)}
<h2>Evidence</h2>{evidence}
</body></html>
"""
    path.write_text(page, "utf-8")


def write_report(run: RunRecord, directory: Path) -> Path:
    """Write every form of the report into `directory`; returns the HTML page's path."""
    directory.mkdir(parents=True, exist_ok=True)
    write_json(run, directory / "report.json")
    write_allure(run, directory / "allure-results")
    page = directory / "report.html"
    write_html(run, page)
    return page
