"""Certification summary per meter model: pass/fail per requirement, with its measurements.

The page a lab hands to a manufacturer: one table per meter profile, one row per requirement,
and under each requirement the measurements that decided it.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path

from rig.report.writer import run_to_dict
from rig.scenarios.record import RunRecord


@dataclass
class RequirementResult:
    profile: str
    requirement: str
    outcome: str  # pass | fail | error | skipped
    record: dict[str, object]
    message: str = ""


def result_from_record(profile: str, requirement: str, outcome: str, record: RunRecord,
                       message: str = "") -> RequirementResult:
    return RequirementResult(profile, requirement, outcome, run_to_dict(record), message)


def save_result(result: RequirementResult, directory: Path) -> None:
    """One JSON file per requirement and profile, so parallel workers never share a file."""
    directory.mkdir(parents=True, exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in
                   f"{result.profile}--{result.requirement}")
    (directory / f"{safe}.json").write_text(json.dumps(result.__dict__, default=str), "utf-8")


def load_results(directory: Path) -> list[RequirementResult]:
    return [RequirementResult(**json.loads(p.read_text("utf-8")))
            for p in sorted(directory.glob("*.json"))]


def write_summary(results: list[RequirementResult], path: Path) -> Path:
    e = html.escape
    by_profile: dict[str, list[RequirementResult]] = {}
    for r in results:
        by_profile.setdefault(r.profile, []).append(r)
    sections = []
    for profile, rows in sorted(by_profile.items()):
        passed = sum(r.outcome == "pass" for r in rows)
        skipped = sum(r.outcome == "skipped" for r in rows)  # the model lacks the feature
        identities = [r.record.get("identity", {}) for r in rows]
        identity = next((i for i in identities if isinstance(i, dict) and "meter_model" in i),
                        identities[0] if identities else {})
        model = e(str(identity.get("meter_model", profile))) if isinstance(identity, dict) \
            else e(profile)
        body = []
        for r in sorted(rows, key=lambda r: r.requirement):
            measures = []
            for step in r.record.get("steps", []):  # type: ignore[union-attr]
                for m in step["measurements"]:
                    mark = "pass" if m["passed"] else "fail"
                    measures.append(
                        f"<li class='{mark}'>{e(m['name'])}: {e(str(m['value']))} "
                        f"{e(m['unit'])} {e(m['limits'])}</li>")
            detail = f"<ul>{''.join(measures)}</ul>" if measures else ""
            kind = "skipped" if r.outcome == "skipped" else "fail"
            msg = f"<p class='{kind}'>{e(r.message)}</p>" if r.message else ""
            body.append(f"<tr><td>{e(r.requirement)}</td><td class='{e(r.outcome)}'>"
                        f"{e(r.outcome.upper())}</td><td>{msg}{detail}</td></tr>")
        sections.append(
            f"<h2>{model} <small>({e(profile)})</small>: {passed}/{len(rows) - skipped} passed"
            f"{f', {skipped} not applicable (skipped)' if skipped else ''}</h2>"
            f"<table><tr><th>requirement</th><th>result</th><th>measurements</th></tr>"
            f"{''.join(body)}</table>")
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Certification summary</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:75em}table{"
        "border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;"
        "vertical-align:top}.pass{color:#17692c}.fail,.error{color:#a11;font-weight:600}"
        "li{font-size:.9em}</style></head><body><h1>Certification summary</h1>"
        f"{''.join(sections) or '<p>No requirement was run.</p>'}</body></html>\n")
    path.write_text(page, "utf-8")
    return path
