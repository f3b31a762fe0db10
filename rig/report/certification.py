"""Certification summary per meter model, and the run's test record.

The page a lab hands to a manufacturer and an auditor: the record's header (when, which rig,
station, operator), a table of every test of every profile with the totals, then per profile
its device under test and instruments, and per requirement every measurement with its limit
(the requirement) and verdict, and links to its evidence files. record.json holds the same
in machine form (rig.report.testrecord).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rig.report.record import RunRecord
from rig.report.testrecord import build_record, save_evidence, test_entry, write_record
from rig.report.writer import context_rows, header_rows, run_to_dict
from rig.templating import templates


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


_VERDICT = {"pass": "pass", "fail": "FAIL", "recorded": "recorded, no limit"}


def _profile_section(profile: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One meter model's heading figures, its DUT and instruments, and its tests."""
    skipped = sum(t["outcome"] == "skipped" for t in rows)  # the model lacks the feature
    ran = [t for t in rows if t.get("dut")]
    return {"profile": profile, "tests": rows, "skipped": skipped,
            "passed": sum(t["outcome"] == "pass" for t in rows),
            "applicable": len(rows) - skipped,
            "model": str(ran[0]["dut"].get("meter_model", profile)) if ran else profile,
            "context": context_rows(ran[0]) if ran else None}


def write_summary(results: list[RequirementResult], path: Path,
                  record: dict[str, Any] | None = None) -> Path:
    """certification.html from the template rig/report/templates/certification.html."""
    if record is None:
        record = build_record("certification", [r.entry for r in results],
                              started=time.time(), finished=time.time())
    by_profile: dict[str, list[dict[str, Any]]] = {}
    for t in record["tests"]:
        by_profile.setdefault(t["profile"], []).append(t)
    totals = record["totals"]
    total_line = (f"{totals['tests']} tests: {totals['pass']} passed, {totals['fail']} failed, "
                  f"{totals['error']} errors, {totals['skipped']} not applicable (skipped)")
    page = templates("rig.report").get_template("certification.html").render(
        record=record, header=header_rows(record), total_line=total_line, verdict=_VERDICT,
        anchor=_safe, profiles=[_profile_section(p, rows)
                                for p, rows in sorted(by_profile.items())])
    path.write_text(page, "utf-8")
    return path
