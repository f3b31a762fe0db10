"""record.json: the machine-readable test record a lab's database imports.

One schema for a single `rig run` and for a certification run (docs/certification.md,
"The test record"): a header (when, which rig, where, who), then one entry per test with its
device under test, instruments, billing centre, outcome, every measurement with its limit and
verdict, and links to its evidence files. Values that are money or energy are exact strings.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rig.report.provenance import billing_description, operator_name, rig_software

if TYPE_CHECKING:
    from rig.bench.bench import Bench
    from rig.report.record import Attachment, RunRecord

SCHEMA = "rig-test-record"
SCHEMA_VERSION = 1
OUTCOMES = ("pass", "fail", "error", "skipped")


def local_time(t: float) -> str:
    """An instant as ISO 8601 in the machine's time zone, with its UTC offset."""
    return datetime.fromtimestamp(t).astimezone().isoformat(timespec="milliseconds")


def bench_context(bench: Bench, *, billing_url: str | None,
                  operator: str | None = None) -> dict[str, Any]:
    """What a test's record says about where and on what it ran (no credentials)."""
    ident = bench.identity
    return {
        "station": {"id": bench.config.station_id, "bench_kind": bench.config.kind,
                    "time_scale": ident["time_scale"]},
        "operator": operator_name(operator, bench.config.operator),
        "dut": {
            "meter_model": ident["meter_model"],
            "serial": ident["dut_serial"],
            "address": ident["meter_address"],
            "firmware": ident["dut_firmware"],
            "profile": ident["meter_profile"],
            "profile_sha256": ident["profile_sha256"],
        },
        "instruments": bench.instruments,
        "billing": billing_description(billing_url),
    }


def test_entry(run: RunRecord, *, test_id: str, profile: str, requirement: str,
               outcome: str, message: str = "",
               evidence: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """One test of the record: context, outcome, measurements (with the step they belong
    to) and evidence files (paths relative to the record)."""
    return {
        "id": test_id,
        "profile": profile,
        "requirement": requirement,
        "outcome": outcome,
        "message": message,
        "started": local_time(run.started),
        "finished": local_time(run.finished or run.started),
        "duration_s": round(max(0.0, (run.finished or run.started) - run.started), 3),
        **{k: run.context[k] for k in ("station", "operator", "dut", "instruments", "billing")
           if k in run.context},
        "measurements": [{"step": s.name, **m.to_dict()} for s in run.steps
                         for m in s.measurements],
        "steps": [{"name": s.name, "outcome": str(s.outcome), "error": s.error}
                  for s in run.steps],
        "evidence": evidence or [],
    }


def build_record(kind: str, tests: list[dict[str, Any]], *, started: float, finished: float,
                 station: dict[str, Any] | None = None,
                 operator: str | None = None) -> dict[str, Any]:
    """The whole record: header, totals and every test (none left out)."""
    totals = {o: sum(1 for t in tests if t["outcome"] == o) for o in OUTCOMES}
    first = tests[0] if tests else {}
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "kind": kind,
        "started": local_time(started),
        "finished": local_time(finished),
        "duration_s": round(max(0.0, finished - started), 3),
        "rig": rig_software(),
        "station": station or first.get("station"),
        "operator": operator or first.get("operator") or operator_name(),
        "totals": {"tests": len(tests), **totals},
        "tests": tests,
    }


def save_evidence(attachments: list[Attachment], directory: Path,
                  relative_to: Path) -> list[dict[str, str]]:
    """Write each evidence attachment to its own file under `directory`; returns the list
    of {name, file} with paths relative to the record, as record.json links them."""
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for n, a in enumerate(attachments, start=1):
        ext = {"application/json": "json", "image/png": "png"}.get(a.mime, "txt")
        slug = "".join(c if c.isalnum() else "-" for c in a.name.lower()).strip("-")
        path = directory / f"{n:02d}-{slug[:60]}.{ext}"
        path.write_bytes(a.data if a.data is not None else a.text.encode("utf-8"))
        out.append({"name": a.name, "file": path.relative_to(relative_to).as_posix(),
                    "mime": a.mime})
    return out


def write_record(record: dict[str, Any], path: Path) -> Path:
    path.write_text(json.dumps(record, indent=2, default=str) + "\n", "utf-8")
    return path
