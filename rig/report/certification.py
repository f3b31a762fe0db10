"""Certification summary per meter model, and the run's test record.

The page a lab hands to a manufacturer and an auditor: the record's header (when, which rig,
station, operator), a table of every test of every profile with the totals, then per profile
its device under test and instruments, and per requirement every measurement with its limit
(the requirement) and verdict, and links to its evidence files. record.json holds the same
in machine form (rig.report.testrecord).
"""

from __future__ import annotations

import html
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rig.report.testrecord import build_record, save_evidence, test_entry, write_record
from rig.report.writer import context_html, header_html, run_to_dict
from rig.scenarios.record import RunRecord


@dataclass
class RequirementResult:
    profile: str
    requirement: str
    outcome: str  # pass | fail | error | skipped
    record: dict[str, object]
    message: str = ""
    entry: dict[str, Any] = field(default_factory=dict)  # the test as record.json has it


def _safe(profile: str, requirement: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{profile}--{requirement}")


def result_from_record(profile: str, requirement: str, outcome: str, record: RunRecord,
                       message: str = "", *, test_id: str = "",
                       evidence_root: Path | None = None) -> RequirementResult:
    """A test's result; with `evidence_root` (the run folder) its evidence is written to
    files under evidence/ there and linked from the record."""
    evidence = []
    attachments = [a for s in record.steps for a in s.attachments] + record.attachments
    if evidence_root is not None and attachments:
        evidence = save_evidence(attachments, evidence_root / "evidence" /
                                 _safe(profile, requirement), evidence_root)
    entry = test_entry(record, test_id=test_id or f"{requirement}[{profile}]",
                       profile=profile, requirement=requirement, outcome=outcome,
                       message=message, evidence=evidence)
    return RequirementResult(profile, requirement, outcome, run_to_dict(record), message,
                             entry)


def save_result(result: RequirementResult, directory: Path) -> None:
    """One JSON file per requirement and profile, so parallel workers never share a file."""
    directory = directory / "results"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{_safe(result.profile, result.requirement)}.json"
    path.write_text(json.dumps(result.__dict__, default=str), "utf-8")


def load_results(directory: Path) -> list[RequirementResult]:
    return [RequirementResult(**json.loads(p.read_text("utf-8")))
            for p in sorted((directory / "results").glob("*.json"))]


def write_run_record(results: list[RequirementResult], path: Path, *, started: float,
                     finished: float | None = None,
                     operator: str | None = None) -> dict[str, Any]:
    """record.json for a certification run: every test of every profile."""
    tests = [r.entry for r in sorted(results, key=lambda r: (r.profile, r.requirement))]
    record = build_record("certification", tests, started=started,
                          finished=finished or time.time(),
                          station=next((t["station"] for t in tests if t.get("station")), None),
                          operator=operator or next((t["operator"] for t in tests
                                                     if t.get("operator")), None))
    write_record(record, path)
    return record


_CSS = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:80em}table{"
        "border-collapse:collapse;margin:.5em 0 1.2em}td,th{border:1px solid #ccc;"
        "padding:.3em .6em;text-align:left;vertical-align:top}th{background:#f3f3f3}"
        ".pass{color:#17692c}.fail,.error{color:#a11;font-weight:600}"
        ".skipped,.recorded{color:#777}td{font-size:.92em}")
_VERDICT = {"pass": "pass", "fail": "FAIL", "recorded": "recorded, no limit"}


def _measurements_html(test: dict[str, Any]) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(str(m['step']))}</td><td>{e(str(m['name']))}</td>"
        f"<td>{e(str(m['value']))} {e(str(m['unit']))}</td><td>{e(str(m['limits']))}</td>"
        f"<td class='{e(str(m['verdict']))}'>{_VERDICT.get(str(m['verdict']), '')}</td>"
        f"<td>{e(str(m.get('basis') or ''))} {e(str(m.get('description') or ''))}</td></tr>"
        for m in test.get("measurements", []))
    if not rows:
        return ""
    return ("<table><tr><th>step</th><th>measurement</th><th>value</th>"
            "<th>limit (requirement)</th><th>verdict</th><th>basis / note</th></tr>"
            f"{rows}</table>")


def _evidence_html(test: dict[str, Any]) -> str:
    """Links to every evidence file; plots are shown as well."""
    e = html.escape
    evidence = test.get("evidence", [])
    links = [f"<a href='{e(ev['file'])}'>{e(ev['name'])}</a>" for ev in evidence]
    plots = "".join(f"<figure><img alt='{e(ev['name'])}' src='{e(ev['file'])}' "
                    f"style='max-width:100%'><figcaption>{e(ev['name'])}</figcaption></figure>"
                    for ev in evidence if ev.get("mime") == "image/png")
    return f"{plots}<p>evidence: {' · '.join(links)}</p>" if links else ""


def write_summary(results: list[RequirementResult], path: Path,
                  record: dict[str, Any] | None = None) -> Path:
    e = html.escape
    if record is None:
        record = build_record("certification", [r.entry for r in results],
                              started=time.time(), finished=time.time())
    tests = record["tests"]
    totals = record["totals"]
    overview = "".join(
        f"<tr><td>{e(t['profile'])}</td><td><a href='#{e(_safe(t['profile'], t['requirement']))}'>"
        f"{e(t['requirement'])}</a></td><td class='{e(t['outcome'])}'>{e(t['outcome'].upper())}"
        f"</td><td>{len(t.get('measurements', []))}</td><td>{e(t.get('message', ''))}</td></tr>"
        for t in tests)
    by_profile: dict[str, list[dict[str, Any]]] = {}
    for t in tests:
        by_profile.setdefault(t["profile"], []).append(t)
    sections = []
    for profile, rows in sorted(by_profile.items()):
        passed = sum(t["outcome"] == "pass" for t in rows)
        skipped = sum(t["outcome"] == "skipped" for t in rows)  # the model lacks the feature
        ran = [t for t in rows if t.get("dut")]
        model = e(str(ran[0]["dut"].get("meter_model", profile))) if ran else e(profile)
        body = []
        for t in rows:
            kind = "skipped" if t["outcome"] == "skipped" else "fail"
            msg = f"<p class='{kind}'>{e(t['message'])}</p>" if t.get("message") else ""
            body.append(
                f"<h3 id='{e(_safe(profile, t['requirement']))}'>{e(t['requirement'])} — "
                f"<span class='{e(t['outcome'])}'>{e(t['outcome'].upper())}</span> "
                f"<small>({e(str(t.get('started', '')))}, {t.get('duration_s', 0)} s; "
                f"meter address {e(str(t.get('dut', {}).get('address', '—')))})</small></h3>"
                f"{msg}{_measurements_html(t)}{_evidence_html(t)}")
        sections.append(
            f"<h2>{model} <small>({e(profile)})</small>: {passed}/{len(rows) - skipped} passed"
            f"{f', {skipped} not applicable (skipped)' if skipped else ''}</h2>"
            f"{context_html(ran[0]) if ran else ''}{''.join(body)}")
    total_line = (f"{totals['tests']} tests: {totals['pass']} passed, {totals['fail']} failed, "
                  f"{totals['error']} errors, {totals['skipped']} not applicable (skipped)")
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Certification summary</title>"
        f"<style>{_CSS}</style></head><body><h1>Certification summary</h1>"
        f"{header_html(record)}"
        f"<h2>All tests</h2><p><b>{e(total_line)}</b></p>"
        "<table><tr><th>profile</th><th>requirement</th><th>result</th><th>measurements</th>"
        f"<th>message</th></tr>{overview}</table>"
        f"{''.join(sections) or '<p>No requirement was run.</p>'}"
        f"<p><small>Machine-readable record: record.json (schema {e(record['schema'])} "
        f"version {record['schema_version']}, docs/certification.md).</small></p>"
        "</body></html>\n")
    path.write_text(page, "utf-8")
    return path
